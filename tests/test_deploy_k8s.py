"""deploy/k8s: each overlay renders with `kubectl kustomize`, passes `kubernetes-validate --strict` and
checkov, deploy/ passes yamllint, and the rendered objects agree with the services' settings.

kubernetes-validate ships schemas for built-in kinds only: the custom resources (KEDA's ScaledObject, the
Prometheus Operator's PodMonitor and ServiceMonitor) are left out of that run and their required fields are
checked here instead (test_custom_resources_*). Each overlay is rendered once per module.

Tools: kubectl from the machine image, the rest from `make tools` (.tools/venv); a missing one fails on CI
(CI=true) and skips elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.deploy_tools import ROOT, describe, require_tool, run_tool
from tests.support.k8s_render import (
    ALLOWED_CHECKOV_SKIPS,
    CUSTOM_KINDS,
    KUBERNETES_VERSIONS,
    containers,
    selects,
)

# --- the tools -----------------------------------------------------------------------------------


def test_overlay_renders_every_part(rendered):
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered.docs if d["kind"] != "ConfigMap"}
    expected = {
        ("Deployment", "automation-trigger"),
        ("Deployment", "automation-executor"),
        ("Service", "automation-trigger"),
        ("HorizontalPodAutoscaler", "automation-trigger"),
        ("PodDisruptionBudget", "automation-trigger"),
        ("PodDisruptionBudget", "automation-executor"),
        ("ServiceAccount", "automation"),
        ("Job", "automation-migrate"),
        ("Job", "automation-topics"),
        ("CronJob", "automation-prune"),
        ("NetworkPolicy", "automation-default-deny"),
        ("ServiceMonitor", "automation-trigger"),
        ("PodMonitor", "automation-executor"),
    }
    assert expected <= kinds
    assert rendered.of("Secret") == [], "the Secret is created out of band, never rendered from the repo"
    namespaces = {d["metadata"].get("namespace") for d in rendered.docs if d["kind"] != "Namespace"}
    (namespace,) = rendered.of("Namespace")
    assert namespaces == {namespace["metadata"]["name"]}
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_kubernetes_validate_strict_on_builtin_kinds(rendered, tmp_path):
    validate = require_tool("kubernetes-validate")
    builtin = [d for d in rendered.docs if (d["apiVersion"], d["kind"]) not in CUSTOM_KINDS]
    assert {(d["apiVersion"], d["kind"]) for d in rendered.docs} - {
        (d["apiVersion"], d["kind"]) for d in builtin
    } <= CUSTOM_KINDS
    path = tmp_path / f"{rendered.overlay}-builtin.yaml"
    path.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    for version in KUBERNETES_VERSIONS:
        result = run_tool([validate, "--strict", "--kubernetes-version", version, "--quiet", str(path)])
        assert result.returncode == 0, f"Kubernetes {version}: {describe(result)}"
        # Every built-in object had a schema (a missing one is only a warning).
        assert "Couldn't find schema" not in result.stdout + result.stderr, describe(result)


def test_checkov_finds_nothing_but_annotated_skips(rendered, checkov_report):
    def mine(check: dict[str, Any]) -> bool:
        return Path(check["file_path"]).name == rendered.path.name

    results = checkov_report["results"]
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"] if mine(c)]
    assert failed == []
    passed = [c for c in results["passed_checks"] if mine(c)]
    assert len(passed) > 100, len(passed)  # it really ran its Kubernetes checks on this overlay
    for skipped in filter(mine, results["skipped_checks"]):
        assert skipped["check_id"] in ALLOWED_CHECKOV_SKIPS, skipped["check_id"]
        assert len(skipped["check_result"].get("suppress_comment", "")) > 20, skipped
    # Each annotation names a check and gives its reason: checkov.io/skipN: CKV_K8S_xx=reason.
    for doc in rendered.docs:
        for key, value in doc["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                assert re.fullmatch(r"CKV2?_K8S_\d+=\S.{20,}", value, re.DOTALL), value


def test_yamllint_passes_on_deploy():
    yamllint = require_tool("yamllint")
    result = run_tool([yamllint, "--strict", "--config-file", str(ROOT / ".yamllint"), "deploy/"])
    assert result.returncode == 0, describe(result)


# --- custom resources (no schema in kubernetes-validate) ------------------------------------------


def test_custom_resources_scaled_object_scales_the_executor_on_jobs_topic_lag(rendered):
    scaled = rendered.of("ScaledObject")
    if rendered.overlay != "prod":
        assert scaled == []
        return
    (obj,) = scaled
    spec, config = obj["spec"], rendered.config
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    rendered.one("Deployment", target["name"])
    assert target["name"] == "automation-executor"
    partitions = int(config["AUTOMATION_JOBS_TOPIC_PARTITIONS"])
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
    assert spec["fallback"]["replicas"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert all(isinstance(v, str) for v in metadata.values()), "KEDA trigger metadata values are strings"
    assert metadata["bootstrapServers"] == config["AUTOMATION_KAFKA_BOOTSTRAP_SERVERS"]
    assert metadata["consumerGroup"] == config["AUTOMATION_CONSUMER_GROUP"]
    # Only the jobs topic: retry and delay topics hold messages that wait on purpose.
    assert metadata["topic"] == config["AUTOMATION_JOBS_TOPIC"]
    assert int(metadata["lagThreshold"]) > 0
    assert metadata["offsetResetPolicy"] == "earliest"
    assert metadata["allowIdleConsumers"] == "false"


def test_custom_resources_monitors_select_the_metrics_ports(rendered):
    (service_monitor,) = rendered.of("ServiceMonitor")
    service = rendered.one("Service", "automation-trigger")
    assert selects(service_monitor["spec"]["selector"], service["metadata"]["labels"])
    port_names = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in service_monitor["spec"]["endpoints"]:
        assert endpoint["port"] in port_names and endpoint["path"] == "/metrics"

    (pod_monitor,) = rendered.of("PodMonitor")
    executor = rendered.one("Deployment", "automation-executor")["spec"]["template"]
    assert selects(pod_monitor["spec"]["selector"], executor["metadata"]["labels"])
    container_ports = {
        p["name"]: p["containerPort"] for c in containers(executor) for p in c.get("ports", [])
    }
    for endpoint in pod_monitor["spec"]["podMetricsEndpoints"]:
        assert endpoint["path"] == "/metrics"
        assert container_ports[endpoint["port"]] == int(rendered.config["AUTOMATION_EXECUTOR_METRICS_PORT"])
