"""The Grafana dashboard and the Prometheus alert rules (deploy/): well-formed, promtool-clean, unit-tested,
and every query evaluated by a real Prometheus scraping both services while jobs flow through them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from devtools.embedded import free_port, wait_for_port
from executor_service import metrics as executor_metrics
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support import prometheus as prom
from tests.support.deploy_tools import require_tool
from tests.support.jobs import make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, wait_until
from tests.support.processes import ROOT, ExecutorProcess, executor_env
from tests.support.sample import sample_request
from trigger_service import metrics as trigger_metrics

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def defined_metrics() -> set[str]:
    """Sample names of every metric defined in trigger_service/metrics.py and executor_service/metrics.py."""
    names = set()
    for module in (trigger_metrics, executor_metrics):
        for metric in vars(module).values():
            if isinstance(metric, MetricWrapperBase):
                [family] = metric.describe()
                names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def all_queries() -> list[tuple[str, str]]:
    return prom.dashboard_queries() + prom.rule_queries()


# --- the files themselves --------------------------------------------------------------------------


def test_dashboard_is_provisionable_with_a_datasource_variable():
    board = prom.dashboard()
    assert board["uid"] == "automation-pipeline" and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    for name in ("automation_type", "method", "job"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    # One environment at a time: no "All" that would sum dev and prod.
    assert not variables["namespace"]["includeAll"] and not variables["namespace"]["multi"]
    assert "$namespace" in variables["job"]["query"]
    panels = prom.panels(board)
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["datasource"] == panel["datasource"] for t in panel["targets"])
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
    text = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in (
        "automation_grpc_requests_total",
        "automation_grpc_request_duration_seconds_bucket",
        "automation_produce_errors_total",
        "automation_jobs_total",
        "automation_retries_total",
        "automation_dead_letters_total",
        "automation_dedup_skips_total",
        "automation_consumer_lag",
        "automation_end_to_end_seconds_bucket",
        "automation_send_lateness_seconds_bucket",
        "automation_eventlog_write_duration_seconds_bucket",
        "automation_executor_ready",
        "automation_trigger_ready",
    ):
        assert metric in text, f"no panel shows {metric}"


def test_every_panel_query_is_scoped_to_one_namespace_and_the_chosen_jobs():
    # dev and prod scraped by one Prometheus must never be summed together: every selector of every
    # panel query carries both variables.
    for panel in prom.panels(prom.dashboard()):
        for target in panel["targets"]:
            found = prom.selectors(target["expr"])
            assert found, target["expr"]
            for name, matchers in found:
                assert 'namespace=~"$namespace"' in matchers, f"{panel['title']}: {name}{matchers}"
                assert 'job=~"$job"' in matchers, f"{panel['title']}: {name}{matchers}"


def test_every_alert_aggregates_per_namespace():
    # An aggregation without `namespace` (or absent(), which has no labels) merges environments: prod
    # down while dev is up would not fire.
    aggregation = re.compile(r"\b(sum|min|max|avg|count|group)\s*(?:by\s*\(([^)]*)\))?\s*\(")
    for name, expr in prom.rule_queries():
        assert "absent(" not in expr, name
        for match in aggregation.finditer(expr):
            assert "namespace" in (match.group(2) or ""), f"{name}: {match.group(0)}"
        for labels in re.findall(r"\bon\s*\(([^)]*)\)", expr):
            assert "namespace" in labels, f"{name}: on ({labels})"


def test_grafana_provisioning_names_a_prometheus_datasource_and_a_dashboard_folder():
    base = prom.ROOT / "deploy/grafana/provisioning"
    [datasource] = yaml.safe_load((base / "datasources/prometheus.yaml").read_text())["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"].startswith("http")
    [provider] = yaml.safe_load((base / "dashboards/automation.yaml").read_text())["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_alerts_have_severity_summary_description_and_a_runbook_section():
    sections = prom.runbook_sections()
    tested = set(re.findall(r"alertname: (\w+)", prom.RULES_TEST.read_text()))
    alerts = [rule for rule in prom.rules() if "alert" in rule]
    assert len(alerts) >= 8
    # One section per alert, and none for an alert that no longer exists.
    assert sorted(sections) == sorted(rule["alert"].lower() for rule in alerts)
    bases = set()
    for rule in alerts:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        base, anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)
        assert anchor == rule["alert"].lower(), rule["alert"]
        bases.add(base)
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool unit test"
    assert len(bases) == 1 and next(iter(bases)).endswith("/deploy/prometheus/RUNBOOK.md"), bases


def test_runbook_names_real_panels_and_real_automationctl_commands():
    text = prom.RUNBOOK.read_text()
    titles = {panel["title"] for panel in prom.panels(prom.dashboard())}
    quoted = re.findall(r'panels? ((?:"[^"]+"(?:,\s*|\s+and\s+)?)+)', text.replace("\n", " "))
    named = {title for group in quoted for title in re.findall(r'"([^"]+)"', group)}
    assert named and named <= titles, named - titles
    lines = re.findall(r"(?:^|`)ctl ([^\n`]*)", text, re.MULTILINE)
    helps: dict[str, str] = {}
    for line in lines:
        words = line.split()
        command = words[:2] if words[0] in ("dlq", "topics") else words[:1]
        key = " ".join(command)
        if key not in helps:
            done = subprocess.run(
                [sys.executable, "-m", "automationctl", *command, "--help"],
                cwd=prom.ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, f"automationctl {key}: {done.stderr}"
            helps[key] = done.stdout
        for option in re.findall(r"(--[a-z-]+)", line):
            assert option in helps[key], f"automationctl {line}: no {option}"
    assert {"runs", "dlq list", "dlq replay", "topics ensure"} <= set(helps), helps.keys()


def test_monitoring_component_is_generated_from_the_one_rules_file_and_dashboard(renders):
    checked = subprocess.run(
        [sys.executable, str(prom.MONITORING / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    settings = prom.monitoring_settings()
    release, base = settings["PROMETHEUS_RELEASE"], settings["RUNBOOK_BASE_URL"]
    source = yaml.safe_load(prom.RULES.read_text())["groups"]
    for rule in (r for group in source for r in group["rules"] if "alert" in r):
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        rule["annotations"]["runbook_url"] = f"{base}#{anchor}"
    for overlay, rendered in renders.items():
        (rule_object,) = rendered.of("PrometheusRule")
        assert rule_object["spec"]["groups"] == source, overlay
        anchors = set(prom.runbook_sections())
        for group in rule_object["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    url_base, anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)
                    assert url_base == base and anchor in anchors, rule["alert"]
        (dashboard,) = [d for d in rendered.of("ConfigMap") if "grafana_dashboard" in d["metadata"]["labels"]]
        assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert dashboard["data"] == {prom.DASHBOARD.name: prom.DASHBOARD.read_text()}
        # kube-prometheus-stack selects monitors and rules by its Helm release label.
        for obj in (rule_object, dashboard, *rendered.of("ServiceMonitor"), *rendered.of("PodMonitor")):
            assert obj["metadata"]["labels"]["release"] == release, (overlay, obj["kind"])
        assert not [d for d in rendered.docs if d["metadata"]["name"] == "automation-monitoring-settings"]


def test_monitoring_settings_are_applied_from_one_place(tmp_path):
    # Change the two settings in a copy: every alert link and every selector label follows.
    kubectl = require_tool("kubectl")
    copy = tmp_path / "k8s"
    shutil.copytree(prom.ROOT / "deploy/k8s", copy)
    settings = copy / "components/monitoring/settings.env"
    settings.write_text("PROMETHEUS_RELEASE=monitoring-prod\nRUNBOOK_BASE_URL=https://runbooks.test/rb.md\n")
    done = subprocess.run(
        [kubectl, "kustomize", str(copy / "overlays/prod")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    labelled = [d for d in docs if d["metadata"].get("labels", {}).get("release")]
    assert {d["kind"] for d in labelled} == {"PrometheusRule", "ServiceMonitor", "PodMonitor", "ConfigMap"}
    assert {d["metadata"]["labels"]["release"] for d in labelled} == {"monitoring-prod"}
    (rule_object,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    urls = [r["annotations"]["runbook_url"] for g in rule_object["spec"]["groups"] for r in g["rules"]]
    assert urls and all(url.startswith("https://runbooks.test/rb.md#") for url in urls)


def test_queries_name_only_metrics_the_services_define():
    defined = defined_metrics()
    for name, expr in all_queries():
        assert prom.metric_names(expr), f"{name}: no metric found in {expr}"
        assert prom.metric_names(expr) <= defined, f"{name}: {prom.metric_names(expr) - defined}"
    assert prom.variable_metrics() <= defined


def test_promtool_check_rules_config_and_rule_unit_tests():
    promtool = prom.require_tool("promtool")
    deploy = prom.RULES.parent.parent
    for args, cwd in (
        (["check", "rules", prom.RULES.name], prom.RULES.parent),
        (["test", "rules", prom.RULES_TEST.name], prom.RULES.parent),
        (["check", "config", "prometheus.yml"], deploy),
    ):
        done = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"


# --- live: both services, a real Prometheus, every query -------------------------------------------


def start_trigger(stack: ExitStack, env: dict[str, str], tmp_path) -> None:
    """``python -m trigger_service`` until ``stack`` closes (SIGTERM, then SIGKILL after 20 s)."""
    with open(tmp_path / f"trigger-{env['AUTOMATION_GRPC_PORT']}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trigger_service"], cwd=ROOT, env=env, stdout=log, stderr=log
        )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    stack.callback(stop)


def request(automation_type=pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, recipient=pb.RECIPIENT_CLIENT):
    req = sample_request(f"b-{uuid.uuid4().hex[:10]}", automation_type, recipient)
    req.booking.sitter.CopyFrom(pb.Sitter(id="s-1", name="Sam Lee", phone="+14155550199"))
    return req


def send_traffic(settings, stub, cut_off_stub, http_receiver) -> None:
    """Every outcome a panel shows: successes of several types, a retry, a dead letter, a duplicate
    enqueue, a redelivery skipped by dedup, a validation error, a scheduled job and a produce timeout."""
    http_receiver.respond_with([400])  # permanent: dead letter
    stub.EnqueueAutomation(request(), timeout=10)
    http_receiver.wait_for(1)
    http_receiver.respond_with([500, 200])  # transient, then every later send succeeds
    stub.EnqueueAutomation(request(pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_SITTER), timeout=10)
    http_receiver.wait_for(2)
    scheduled = request(pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER)
    scheduled.due_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=3))
    batch = [request(pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER), request(), scheduled]
    results = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=batch), timeout=10).results
    assert [r.WhichOneof("result") for r in results] == ["accepted"] * 3
    assert stub.EnqueueAutomation(batch[1], timeout=10).duplicate
    invalid = request()
    invalid.booking.client.phone = "555"
    for target, req, code in ((stub, invalid, "INVALID_ARGUMENT"), (cut_off_stub, request(), "UNAVAILABLE")):
        with pytest.raises(grpc.RpcError) as failed:
            target.EnqueueAutomation(req, timeout=5)
        assert failed.value.code().name == code
    redelivered = make_job()
    redelivered.enqueued_at.GetCurrentTime()  # as the trigger stamps it (end-to-end latency counts from it)
    produce_jobs(settings, [redelivered])
    wait_until(lambda: eventlog_rows(settings.sqlalchemy_url, job_id=redelivered.job_id), what="a row")
    produce_jobs(settings, [redelivered])  # the same job again: skipped by dedup
    expected = Counter(succeeded=5, dead_lettered=1, retry_scheduled=1, scheduled=1, skipped_duplicate=1)
    seen: Counter[str] = Counter()

    def done() -> bool:
        seen.clear()
        seen.update(row.status for row in eventlog_rows(settings.sqlalchemy_url))
        return all(seen[status] >= n for status, n in expected.items())

    try:
        wait_until(done, timeout_s=30, what=f"EventLog rows {expected}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; got {dict(seen)}") from None


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_live_prometheus_answers_every_panel_and_alert_query(settings, http_receiver, tmp_path):
    binary, promtool = prom.require_tool("prometheus"), prom.require_tool("promtool")
    ports = {"trigger": (free_port(), free_port()), "cut_off": (free_port(), free_port())}  # gRPC, metrics
    cut_off = {"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}", "produce_timeout_s": 1}  # no broker
    with ExitStack() as stack:
        executor = stack.enter_context(ExecutorProcess(settings, tmp_path))
        for name, (grpc_port, metrics_port) in ports.items():
            overrides = cut_off if name == "cut_off" else {}
            env = executor_env(settings, grpc_port=grpc_port, trigger_metrics_port=metrics_port, **overrides)
            start_trigger(stack, env, tmp_path)
        triggers = [f"127.0.0.1:{metrics_port}" for _, metrics_port in ports.values()]
        targets = {"trigger": triggers, "executor": [f"127.0.0.1:{executor.port}"]}
        server = stack.enter_context(prom.PrometheusServer(binary, targets, [prom.RULES]))
        server.wait_ready()
        executor.wait_ready()
        stubs = []
        for grpc_port, _ in ports.values():
            wait_for_port("127.0.0.1", grpc_port, 20)
            channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
            stubs.append(pb_grpc.AutomationServiceStub(channel))
        send_traffic(settings, *stubs, http_receiver)

        # Every panel query returns data; every alert expression parses (firing or not).
        assert server.without_data(dict(prom.dashboard_queries()), timeout_s=20) == {}
        healthy = {"TriggerAbsent", "ExecutorAbsent", "TriggerNotReady", "ExecutorNotReady", "NoConsumption"}
        for name, expr in prom.rule_queries():
            firing = server.query(expr)
            assert not (firing and name.removeprefix("Automation") in healthy), (
                f"{name} on a healthy pipeline"
            )
        rules = wait_until(server.evaluated_rules, timeout_s=10, what="every rule evaluated")
        assert [r["name"] for r in rules if r["health"] != "ok"] == [], rules

        # No query reads a metric the live services do not export, and promtool finds nothing to lint.
        pages = [prom.http_get(f"http://{target}/metrics")[1] for target in [*triggers, *targets["executor"]]]
        exported = set().union(*map(prom.exported_metrics, pages))
        for name, expr in all_queries():
            assert prom.metric_names(expr) <= exported, f"{name} reads {prom.metric_names(expr) - exported}"
        assert prom.variable_metrics() <= exported
        for page in pages:
            checked = subprocess.run(
                [promtool, "check", "metrics"], input=page, capture_output=True, text=True
            )
            assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr
