"""Benchmarks of the automation pipeline (issue #4): ``make bench`` / ``python -m bench``.

Not tests: each scenario starts the services as OS processes on a real (embedded) stack and reports
numbers; see bench/README.md.
"""
