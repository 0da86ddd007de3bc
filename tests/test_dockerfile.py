"""The container image's Dockerfile and .dockerignore: hadolint and checkov find nothing, and the build
does what deploy/k8s relies on (no Docker engine here, so the image itself is not built).

Tools: `make tools` (.tools/venv); missing ones fail on CI (CI=true) and skip elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import zipfile

from devtools.embedded import free_port
from shared.config import Settings
from shared.metrics_server import MetricsServer
from tests.support.deploy_tools import ROOT, describe, require_tool, run_tool

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
IMAGE_REQUIREMENTS = ROOT / "deploy" / "requirements-image.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
UID = "10001"


def instructions() -> list[tuple[str, str, str]]:
    """(stage, INSTRUCTION, arguments) for each instruction, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    result, stage = [], ""
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage = args.split()[-1] if " AS " in args.upper() else args
        result.append((stage, keyword, args.strip()))
    return result


def in_stage(stage: str, keyword: str) -> list[str]:
    return [args for s, k, args in instructions() if s == stage and k == keyword]


def final_stage() -> str:
    return instructions()[-1][0]


# --- linters -------------------------------------------------------------------------------------


def test_hadolint_finds_nothing():
    hadolint = require_tool("hadolint")
    result = run_tool([hadolint, "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, describe(result)


def test_checkov_dockerfile_passes_without_skips():
    checkov = require_tool("checkov")
    result = run_tool(
        [checkov, "-f", str(DOCKERFILE), "--framework", "dockerfile", "--skip-download", "--output", "json"]
    )
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and report["summary"]["failed"] == 0
    assert report["summary"]["passed"] > 50, report["summary"]  # it really ran its Dockerfile checks
    assert report["results"]["skipped_checks"] == []


# --- what the build does -------------------------------------------------------------------------


def test_base_image_is_slim_python_311_pinned_by_tag_and_digest():
    base = instructions()[0]
    assert base[1] == "FROM"
    image = base[2].split()[0]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image), image
    # Every later stage starts from that one pinned base (a stage name, never another image).
    stages = [s for s, k, _ in instructions() if k == "FROM"]
    for _, keyword, args in instructions()[1:]:
        if keyword == "FROM":
            assert args.split()[0] in stages, args


def test_multi_stage_build_installs_the_wheel_and_frozen_requirements_into_a_venv():
    build_runs = " ".join(in_stage("build", "RUN"))
    assert "python -m venv /opt/venv" in build_runs
    assert "--requirement requirements-image.txt" in build_runs
    assert "pip wheel --no-deps" in build_runs and "pip install --no-deps" in build_runs
    assert "pip check" in build_runs
    runtime = final_stage()
    assert runtime != "build"
    copies = in_stage(runtime, "COPY")
    assert copies == ["--from=build /opt/venv /opt/venv"], copies


def test_runtime_stage_has_no_build_tools_and_runs_as_numeric_non_root_user():
    runtime = final_stage()
    runs = " ".join(in_stage(runtime, "RUN"))
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in runs, f"runtime stage installs with {tool}"
    assert "pip uninstall --yes pip setuptools wheel" in runs
    assert f"--uid {UID}" in runs and f"--gid {UID}" in runs
    assert in_stage(runtime, "USER") == [f"{UID}:{UID}"]
    # The USER comes after every RUN, so nothing after it runs as root.
    keywords = [k for s, k, _ in instructions() if s == runtime]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_default_command_is_harmless_and_ports_match_the_settings():
    runtime = final_stage()
    assert in_stage(runtime, "CMD") == ['["automationctl", "--help"]']
    assert in_stage(runtime, "ENTRYPOINT") == []
    defaults = Settings()
    exposed = {int(p) for args in in_stage(runtime, "EXPOSE") for p in args.split()}
    assert exposed == {defaults.grpc_port, defaults.trigger_metrics_port, defaults.executor_metrics_port}
    env = " ".join(in_stage(runtime, "ENV"))
    assert "AUTOMATION_VAR_DIR=/var/lib/automation" in env
    assert f"HEALTHCHECK_PORT={defaults.trigger_metrics_port}" in env
    # Every console script the manifests run exists in the image (pyproject's entry points).
    assert {"automation-trigger", "automation-executor", "automation-migrate", "automationctl"} <= set(
        PYPROJECT["project"]["scripts"]
    )


def healthcheck_argv() -> list[str]:
    (args,) = in_stage(final_stage(), "HEALTHCHECK")
    exec_form = args[args.index("CMD ") + len("CMD ") :]
    argv = json.loads(exec_form)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_healthcheck_reads_the_port_from_the_environment_and_fails_when_nothing_answers():
    argv = healthcheck_argv()
    server = MetricsServer("127.0.0.1", 0)
    port = server.start()
    try:
        ok = subprocess.run(argv, env={"HEALTHCHECK_PORT": str(port)}, capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.stop()
    down = subprocess.run(argv, env={"HEALTHCHECK_PORT": str(free_port())}, capture_output=True, timeout=30)
    assert down.returncode != 0


# --- the build context ---------------------------------------------------------------------------


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per .dockerignore line, in order; Docker's matching: `*` within one path
    segment, `**` across segments, the last matching line wins, a match on a folder covers its content."""
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(glob):
            if glob.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif glob.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif glob[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif glob[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif glob[i] == "[":
                end = glob.index("]", i)
                regex, i = regex + glob[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(glob[i]), i + 1
        patterns.append((negated, re.compile(regex)))
    return patterns


def in_context(path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for negated, regex in dockerignore_patterns():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            included = negated
    return included


def test_dockerignore_admits_every_copy_source_and_nothing_private():
    sources = []
    for _stage, keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    assert sources, "no COPY from the build context"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert in_context(source), f".dockerignore leaves out {source}, which the Dockerfile copies"
        assert in_context(f"{source}/x.py") or (ROOT / source).is_file()
    for private in (
        ".git/config",
        ".venv/bin/python",
        ".tools/venv/bin/checkov",
        "var/automation.db",
        "tests/test_pipeline.py",
        "bench/results/run.json",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        "shared/__pycache__/config.cpython-311.pyc",
        "petsit_automation.egg-info/PKG-INFO",
        ".env",
        "deploy/k8s/base/kustomization.yaml",
    ):
        assert not in_context(private), f"{private} would be sent to the Docker build"


def test_image_requirements_freeze_exactly_the_pins_of_pyproject():
    def normalize(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    frozen = {}
    for line in IMAGE_REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"not pinned: {line}"
            frozen[normalize(name)] = version
    assert "petsit-automation" not in frozen
    for requirement in PYPROJECT["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^;\s]+)", requirement.strip())
        assert match, f"pyproject.toml dependency not pinned with ==: {requirement}"
        name, version = normalize(match[1]), match[2]
        assert frozen.get(name) == version, (
            f"deploy/requirements-image.txt has {name}=={frozen.get(name)}, pyproject.toml {version}: "
            "regenerate it (its header says how)"
        )


def test_the_wheel_the_image_installs_carries_every_package_data_file(tmp_path):
    """The Lua scripts and the automation settings are read from the installed package, not the tree."""
    package_data = sorted(
        path.relative_to(ROOT).as_posix()
        for package in ("shared", "trigger_service", "executor_service")
        for pattern in ("*.lua", "*.toml")
        for path in (ROOT / package).rglob(pattern)
    )
    assert any(name.endswith(".lua") for name in package_data)
    for name in package_data:
        assert in_context(name), f".dockerignore leaves out {name}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            tmp_path,
            ROOT,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("petsit_automation-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        missing = set(package_data) - set(archive.namelist())
    assert not missing, f"not in the wheel: {sorted(missing)}"
