"""deploy/k8s: each overlay renders with `kubectl kustomize`, passes `kubernetes-validate --strict` and
checkov, deploy/ passes yamllint, and the rendered objects agree with the services' settings. Besides the
overlays as shipped, every test runs on prod after `kustomize edit set image` pins a registry and digest
(prod-pinned) and on prod with the optional security components (prod-secure).

kubernetes-validate ships schemas for built-in kinds only: the custom resources (KEDA's ScaledObject and
TriggerAuthentication, the Prometheus Operator's PodMonitor, ServiceMonitor and PrometheusRule) are left
out of that run and their required fields are checked here instead (test_custom_resources_*). Each variant
is rendered once per module.

Tools: kubectl from the machine image, the rest from `make tools` (.tools/venv); a missing one fails on CI
(CI=true) and skips elsewhere.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.support.deploy_tools import ROOT, describe, require_tool, run_tool
from tests.support.k8s_render import (
    ALLOWED_CHECKOV_SKIPS,
    CUSTOM_KINDS,
    K8S,
    KUBERNETES_VERSIONS,
    SECRET_NAME,
    containers,
    min_kubernetes_version,
    pin_image,
    render_dir,
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
        ("CronJob", "automation-prune"),
        ("NetworkPolicy", "automation-default-deny"),
        ("ServiceMonitor", "automation-trigger"),
        ("PodMonitor", "automation-executor"),
        ("PrometheusRule", "automation"),
    }
    assert expected <= kinds
    # Migrations and topics run as the trigger's init containers: no Job whose immutable pod template
    # would break the next `kubectl apply -k` (test_reapplying_after_changes_*).
    assert rendered.of("Job") == []
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


def test_minimum_kubernetes_version_is_stated_once():
    # deploy/k8s/README.md states it (the tests validate against it); nothing else names another one.
    version = min_kubernetes_version()
    assert KUBERNETES_VERSIONS[0] == f"{version}.0"
    pattern = re.compile(r"Kubernetes\s*(?:>=|≥|v)?\s*1\.\d+|1\.\d+ or later")
    for path in [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *K8S.rglob("*.yaml"), *K8S.rglob("*.md")]:
        found = pattern.findall(path.read_text())
        assert found == [], f"{path.relative_to(ROOT)}: {found} (refer to deploy/k8s/README.md instead)"


def test_reapplying_after_changes_keeps_every_immutable_field(tmp_path):
    # A release and a config change: new image (registry and digest), a changed literal, a changed
    # automation settings file. `kubectl apply -k` of the second render over the first must be valid: no
    # immutable field of an object that exists in both changes, and what must change does.
    kubectl = require_tool("kubectl")
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    overlay = copy / "overlays/prod"
    _, before = render_dir(kubectl, overlay)
    pin_image(overlay / "kustomization.yaml")
    kustomization = (overlay / "kustomization.yaml").read_text()
    assert "AUTOMATION_TOPIC_REPLICATION_FACTOR=3" in kustomization
    (overlay / "kustomization.yaml").write_text(
        kustomization.replace(
            "AUTOMATION_TOPIC_REPLICATION_FACTOR=3",
            "AUTOMATION_TOPIC_REPLICATION_FACTOR=3\n      - AUTOMATION_LOG_LEVEL=WARNING",
        )
    )
    settings = overlay / "automations.toml"
    settings.write_text(settings.read_text().replace("Happy Paws Pet Sitting", "Happy Paws & Co"))
    _, after = render_dir(kubectl, overlay)

    def by_key(docs):
        return {(d["kind"], d["metadata"]["name"]): d for d in docs}

    old, new = by_key(before), by_key(after)
    changed = {key for key in old.keys() & new.keys() if old[key] != new[key]}
    assert ("Deployment", "automation-trigger") in changed and (
        "Deployment",
        "automation-executor",
    ) in changed
    # The generated ConfigMaps got new names (content hash): the pods roll, the old ones stay readable.
    for prefix in ("automation-config-", "automation-settings-"):
        names_before = {n for k, n in old if k == "ConfigMap" and n.startswith(prefix)}
        names_after = {n for k, n in new if k == "ConfigMap" and n.startswith(prefix)}
        assert len(names_before) == len(names_after) == 1 and names_before != names_after, prefix
    for kind, name in changed:
        a, b = old[(kind, name)], new[(kind, name)]
        assert kind not in ("Job", "ConfigMap", "Secret"), f"{kind} {name} changed in place"
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            assert a["spec"]["selector"] == b["spec"]["selector"], name
        if kind == "Service":
            assert {k: a["spec"].get(k) for k in ("clusterIP", "type")} == {
                k: b["spec"].get(k) for k in ("clusterIP", "type")
            }, name
        if kind == "PodDisruptionBudget":
            assert a["spec"]["selector"] == b["spec"]["selector"], name
    # Every Job (none today) would have to be new by name: its pod template cannot change.
    assert not [key for key in changed if key[0] == "Job"]
    for deployment in ("automation-trigger", "automation-executor"):
        template = new[("Deployment", deployment)]["spec"]["template"]
        images = {c["image"] for c in containers(template)}
        assert images == {
            "registry.example.com/petsit/automation:0.1.0@" + "sha256:" + "0123456789abcdef" * 4
        }


# --- custom resources (no schema in kubernetes-validate) ------------------------------------------


def test_custom_resources_scaled_object_scales_the_executor_on_jobs_topic_lag(rendered):
    scaled = rendered.of("ScaledObject")
    if rendered.environment != "prod":
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
    # With TLS/SASL brokers KEDA needs the same login, from the Secret (components/keda-kafka-auth).
    auth = rendered.of("TriggerAuthentication")
    if not rendered.secure:
        assert auth == [] and "authenticationRef" not in trigger
        return
    (trigger_auth,) = auth
    assert trigger["authenticationRef"] == {"name": trigger_auth["metadata"]["name"]}
    refs = {ref["parameter"]: ref for ref in trigger_auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"sasl", "username", "password", "tls", "ca"}
    assert {ref["name"] for ref in refs.values()} == {SECRET_NAME}
    assert refs["password"]["key"] == "AUTOMATION_KAFKA_SASL_PASSWORD"
    assert refs["username"]["key"] == "AUTOMATION_KAFKA_SASL_USERNAME"
    assert config["AUTOMATION_KAFKA_SECURITY_PROTOCOL"].startswith("SASL_")


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
    # Job names as deploy/prometheus/prometheus.yml scrapes them (the dashboard's job variable, alerts).
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"]
    jobs = {job["job_name"] for job in scrape}
    endpoints = [(e, "automation-trigger") for e in service_monitor["spec"]["endpoints"]]
    endpoints += [(e, "automation-executor") for e in pod_monitor["spec"]["podMetricsEndpoints"]]
    for endpoint, name in endpoints:
        (relabel,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
        assert relabel["replacement"] == name and name in jobs
