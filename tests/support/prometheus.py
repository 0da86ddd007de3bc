"""Helpers for the observability tests: promtool / prometheus binaries, a real Prometheus server, and the
queries of the Grafana dashboard and of the alert rules (with the metric names each one reads)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
DASHBOARD = ROOT / "deploy/grafana/dashboards/automation-pipeline.json"
RULES = ROOT / "deploy/prometheus/rules/automation.rules.yaml"
RULES_TEST = ROOT / "deploy/prometheus/rules/automation.rules_test.yaml"

MONITORING = ROOT / "deploy/k8s/components/monitoring"
RUNBOOK = ROOT / "deploy/prometheus/RUNBOOK.md"

# Grafana's variables, as the tests substitute them: short windows, every automation type and method,
# every job, and the namespace a Prometheus outside Kubernetes has (none: `=~""` matches a missing label).
SUBSTITUTIONS = {
    "$namespace": "",
    "$job": ".*",
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1m",
    "${datasource}": "",
    "$automation_type": ".*",
    "$method": ".*",
}


def require_tool(name: str) -> str:
    """Path of ``name`` (Debian package ``prometheus``); fail on CI (CI=true) when missing, else skip."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install -y --no-install-recommends prometheus"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


# --- queries and the metric names they read ------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {
    *("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"),
    *("bottomk", "topk", "quantile", "and", "or", "unless", "bool", "offset", "inf", "nan"),
}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and label names left out)."""
    bare = _STRINGS.sub('""', expr)
    for pattern in (_MATCHERS, _RANGES, _GROUPING):
        bare = pattern.sub(" ", bare)
    return {name for name in _IDENTIFIER.findall(bare) if name.lower() not in _KEYWORDS}


def substitute(expr: str) -> str:
    for variable, value in SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the tests do not substitute: {expr}"
    return expr


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows left out, collapsed rows' panels included)."""
    out = []
    for panel in board["panels"]:
        out += panel.get("panels", []) if panel["type"] == "row" else [panel]
    return out


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title / refId, query with the variables substituted) for every target of every panel."""
    return [
        (f"{p['title']} / {t['refId']}", substitute(t["expr"]))
        for p in panels(dashboard())
        for t in p["targets"]
    ]


def variable_metrics() -> set[str]:
    """Metrics the dashboard's query variables read (``label_values(<metric>, <label>)``)."""
    names = set()
    for var in dashboard()["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = re.fullmatch(r"label_values\((\w*)(\{[^}]*\})?,\s*(\w+)\)", query)
            assert match, query
            if match.group(1):
                names.add(match.group(1))
            selector = match.group(2) or ""
            by_name = re.search(r'__name__=~"([\w|]+)"', selector)
            names.update(by_name.group(1).split("|") if by_name else ())
            assert names, query
    return names


def monitoring_settings() -> dict[str, str]:
    """deploy/k8s/components/monitoring/settings.env (NAME=value lines)."""
    lines = (MONITORING / "settings.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def runbook_sections() -> list[str]:
    """Anchors of the runbook's `## ` sections, as GitHub and GitLab make them (lowercase)."""
    return [line[3:].strip().lower() for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")]


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, its matchers between braces or "") for every metric a query selects."""
    names = metric_names(expr)
    found = re.findall(r"(?<![\w\"=~{,])([a-z_:][\w:]*)(\{[^}]*\})?(?!\s*\()", expr)
    return [(name, matchers) for name, matchers in found if name in names]


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def rule_queries() -> list[tuple[str, str]]:
    return [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules()]


def exported_metrics(text: str) -> set[str]:
    """Sample names a /metrics page exports: its samples, and every family declared by ``# TYPE``
    (a labelled counter nobody incremented yet has no sample but is exported)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            suffixes = ("_bucket", "_count", "_sum") if kind == "histogram" else ("",)
            names.update(name + suffix for suffix in suffixes)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


# --- a real Prometheus server ----------------------------------------------------------------------


def http_get(url: str, timeout_s: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class PrometheusServer:
    """``prometheus`` on 127.0.0.1:<free port>, scraping ``targets`` (job name → host:port list) every
    second and evaluating ``rule_files`` every second; TSDB and config in a temporary directory."""

    def __init__(self, binary: str, targets: dict[str, list[str]], rule_files: list[Path]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="prometheus-"))
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": hosts}]} for job, hosts in targets.items()
            ],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = self.dir / "prometheus.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.dir / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if http_get(self.url + "/-/ready", 1)[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def api(self, path: str, **params: str) -> Any:
        """``data`` of an HTTP API answer; AssertionError with Prometheus's error otherwise."""
        status, body = http_get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", f"{path} {params}: {answer}"
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query (a vector or a scalar, as a list)."""
        data = self.api("query", query=expr)
        return data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]

    def without_data(self, queries: dict[str, str], timeout_s: float) -> dict[str, str]:
        """The queries that still return no data after ``timeout_s`` (each must parse: AssertionError)."""
        pending, deadline = dict(queries), time.monotonic() + timeout_s
        while True:
            pending = {name: expr for name, expr in pending.items() if not self.query(expr)}
            if not pending or time.monotonic() > deadline:
                return pending
            time.sleep(0.5)

    def evaluated_rules(self) -> list[dict[str, Any]] | None:
        """Every loaded rule (with its ``health``), once each has been evaluated; None before."""
        rules = [rule for group in self.api("rules")["groups"] for rule in group["rules"]]
        return rules if all(rule["health"] != "unknown" for rule in rules) else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
