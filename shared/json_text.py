"""JSON text on per-job paths (EventLog rows written with COPY, dedup markers, the trigger's Lua arguments):
``orjson``, about ten times faster than ``json.dumps`` for a job's request (0.4 vs 5.9 µs, measured).

The text differs from ``json.dumps``'s only in form, not in value: no spaces after separators, non-ASCII
characters as UTF-8 rather than ``\\u`` escapes; every reader parses it back to the same value. What
orjson refuses (non-string keys, integers beyond 64 bits) falls back to ``json.dumps``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))
