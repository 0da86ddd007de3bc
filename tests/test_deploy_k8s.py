"""deploy/k8s: each overlay renders with `kubectl kustomize`, passes `kubernetes-validate --strict` and
checkov, deploy/ passes yamllint, and the rendered objects agree with the services' settings.

kubernetes-validate ships schemas for built-in kinds only: the custom resources (KEDA's ScaledObject, the
Prometheus Operator's PodMonitor and ServiceMonitor) are left out of that run and their required fields are
checked here instead (test_custom_resources_*). Each overlay is rendered once per module.

Tools: kubectl from the machine image, the rest from `make tools` (.tools/venv); a missing one fails on CI
(CI=true) and skips elsewhere.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import SecretStr

from shared.config import Settings
from tests.support.deploy_tools import ROOT, describe, require_tool, run_tool

OVERLAYS = ("dev", "prod")
# The oldest version the manifests need (preStop `sleep` is on by default from 1.30) and the newest the
# pinned kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}
# Every checkov skip must be one of these, annotated in the manifest with its reason.
ALLOWED_CHECKOV_SKIPS = {
    "CKV_K8S_43": "image by digest: pinned at release, the image is built from this repository",
    "CKV_K8S_35": "secrets as env vars: the services read settings only from the environment",
}
SECRET_SETTINGS = sorted(
    f"AUTOMATION_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if SecretStr in (field.annotation, *get_args(field.annotation))
)
SECRET_NAME = "automation-secrets"
UID = 10001
# What each component's pods may reach, and on which ports they may be reached.
EGRESS_PORTS = {
    "trigger": {53, 9092, 6379, 5432},
    "executor": {53, 9092, 6379, 5432, 443, 25, 587, 465},
    "migrate": {53, 5432},
    "prune": {53, 5432},
    "topics": {53, 9092},
}
INGRESS_PORTS = {
    "trigger": {50051, 8001},
    "executor": {8002},
    "migrate": set(),
    "prune": set(),
    "topics": set(),
}
COMMANDS = {
    "trigger": ["automation-trigger"],
    "executor": ["automation-executor"],
    "migrate": ["automation-migrate"],
    "topics": ["automationctl", "topics", "ensure"],
    "prune": ["automationctl", "prune"],
}


@dataclass
class Rendered:
    overlay: str
    path: Path
    docs: list[dict[str, Any]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [d for d in self.of(kind) if d["metadata"]["name"] == name]
        return found

    @property
    def config(self) -> dict[str, str]:
        (config_map,) = [
            d for d in self.of("ConfigMap") if d["metadata"]["name"].startswith("automation-config")
        ]
        return config_map["data"]

    def pod_templates(self) -> dict[str, dict[str, Any]]:
        """Pod template of each workload, by its component label."""
        templates = {}
        for doc in self.docs:
            if doc["kind"] in ("Deployment", "Job"):
                template = doc["spec"]["template"]
            elif doc["kind"] == "CronJob":
                template = doc["spec"]["jobTemplate"]["spec"]["template"]
            else:
                continue
            templates[template["metadata"]["labels"]["app.kubernetes.io/component"]] = template
        return templates


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Rendered]:
    """Every overlay rendered once, each to <tmp>/<overlay>.yaml in one folder (checkov reads them all)."""
    kubectl = require_tool("kubectl")
    folder = tmp_path_factory.mktemp("k8s")
    renders = {}
    for overlay in OVERLAYS:
        result = run_tool([kubectl, "kustomize", f"deploy/k8s/overlays/{overlay}"])
        assert result.returncode == 0, f"{overlay}: {describe(result)}"
        path = folder / f"{overlay}.yaml"
        path.write_text(result.stdout)
        renders[overlay] = Rendered(overlay, path, [d for d in yaml.safe_load_all(result.stdout) if d])
    return renders


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request, renders) -> Rendered:
    return renders[request.param]


@pytest.fixture(scope="module")
def checkov_report(renders) -> dict[str, Any]:
    """One checkov run over every rendered overlay (its start-up is most of its time)."""
    checkov = require_tool("checkov")
    folder = next(iter(renders.values())).path.parent
    args = ["--directory", str(folder), "--framework", "kubernetes", "--skip-download", "--output", "json"]
    result = run_tool([checkov, *args])
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template["spec"].get("initContainers", []) + template["spec"]["containers"]


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


# --- agreement with the services ----------------------------------------------------------------


def test_config_map_holds_only_known_non_secret_settings(rendered, monkeypatch):
    config = rendered.config
    known = {f"AUTOMATION_{name.upper()}" for name in Settings.model_fields}
    assert set(config) <= known, f"not a setting (a typo would be ignored silently): {set(config) - known}"
    assert not set(config) & set(SECRET_SETTINGS)
    assert "AUTOMATION_FAILPOINT" not in config
    for name in list(os.environ):
        if name.startswith("AUTOMATION_"):
            monkeypatch.delenv(name)
    for name, value in config.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # the services would start with these values
    assert str(settings.var_dir) == "/var/lib/automation"


def test_secrets_come_only_from_the_secret_by_reference(rendered):
    # Every secret setting reaches the executor; the others get what they use (Kafka's SASL password
    # wherever Kafka is used). A new secret setting fails here until the manifests pass it on.
    kafka = {name for name in SECRET_SETTINGS if name.startswith("AUTOMATION_KAFKA_")}
    needed = {
        "trigger": {"AUTOMATION_REDIS_URL", "AUTOMATION_DATABASE_URL", *kafka},
        "executor": set(SECRET_SETTINGS),
        "migrate": {"AUTOMATION_DATABASE_URL"},
        "prune": {"AUTOMATION_DATABASE_URL"},
        "topics": kafka,
    }
    config_maps = {d["metadata"]["name"] for d in rendered.of("ConfigMap")}
    for component, template in rendered.pod_templates().items():
        for container in containers(template):
            for source in container.get("envFrom", []):
                assert "secretRef" not in source
                assert source["configMapRef"]["name"] in config_maps
            referenced = set()
            for env in container.get("env", []):
                assert env["name"] not in SECRET_SETTINGS or "value" not in env, env
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == SECRET_NAME and ref["key"] == env["name"], env
                    referenced.add(env["name"])
            assert referenced == needed[component], component
        for volume in template["spec"].get("volumes", []):
            assert "secret" not in volume


def test_ports_and_probes_match_the_settings(rendered):
    config = rendered.config
    grpc_port = int(config["AUTOMATION_GRPC_PORT"])
    trigger_metrics = int(config["AUTOMATION_TRIGGER_METRICS_PORT"])
    executor_metrics = int(config["AUTOMATION_EXECUTOR_METRICS_PORT"])

    trigger = rendered.one("Deployment", "automation-trigger")["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in trigger["ports"]} == {
        "grpc": grpc_port,
        "metrics": trigger_metrics,
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert trigger[probe]["grpc"] == {"port": grpc_port}, probe  # the grpc.health.v1 service
    service = rendered.one("Service", "automation-trigger")["spec"]
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["ports"]} == {
        "grpc": (grpc_port, "grpc"),
        "metrics": (trigger_metrics, "metrics"),
    }

    executor = rendered.one("Deployment", "automation-executor")["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in executor["ports"]} == {"metrics": executor_metrics}
    assert executor["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert executor["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert executor["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_termination_grace_outlasts_drain_and_shutdown(rendered):
    config = rendered.config
    executor = rendered.one("Deployment", "automation-executor")["spec"]["template"]["spec"]
    assert executor["terminationGracePeriodSeconds"] >= float(config["AUTOMATION_DRAIN_GRACE_S"]) + 5
    trigger = rendered.one("Deployment", "automation-trigger")["spec"]["template"]["spec"]
    pre_stop = trigger["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert (
        trigger["terminationGracePeriodSeconds"]
        >= pre_stop + float(config["AUTOMATION_SHUTDOWN_GRACE_S"]) + 5
    )


def test_workloads_run_the_right_command_of_one_pinned_image(rendered):
    templates = rendered.pod_templates()
    assert set(templates) == set(COMMANDS)
    images = set()
    for component, template in templates.items():
        (container,) = containers(template)
        assert container["command"] == COMMANDS[component]
        assert container.get("args") is None
        images.add(container["image"])
        assert container["imagePullPolicy"] == "Always"
    (image,) = images
    assert re.fullmatch(r"automation:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", image), image


def test_pods_run_restricted(rendered):
    for account in rendered.of("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
    for component, template in rendered.pod_templates().items():
        spec = template["spec"]
        assert spec["serviceAccountName"] == "automation" and spec["automountServiceAccountToken"] is False
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == UID and pod["runAsGroup"] == UID
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
        mounted = {v["name"] for v in spec.get("volumes", [])}
        for container in containers(template):
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False and ctx.get("privileged", False) is False
            assert ctx["readOnlyRootFilesystem"] is True and ctx["runAsNonRoot"] is True
            assert ctx["capabilities"] == {"drop": ["ALL"]}
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(
                resources["limits"]
            ), component
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts and set(mounts.values()) <= mounted
            for volume in spec.get("volumes", []):
                assert set(volume) <= {"name", "emptyDir"}, volume  # no host paths, no secrets as files
        if component == "executor":  # AUTOMATION_VAR_DIR is written (the log channel's outbox)
            assert "/var/lib/automation" in mounts


def test_one_autoscaler_per_deployment_capped_at_the_partitions(rendered):
    partitions = int(rendered.config["AUTOMATION_JOBS_TOPIC_PARTITIONS"])
    autoscalers: dict[str, list[str]] = {d["metadata"]["name"]: [] for d in rendered.of("Deployment")}
    for hpa in rendered.of("HorizontalPodAutoscaler"):
        autoscalers[hpa["spec"]["scaleTargetRef"]["name"]].append("HorizontalPodAutoscaler")
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for scaled in rendered.of("ScaledObject"):
        autoscalers[scaled["spec"]["scaleTargetRef"]["name"]].append("ScaledObject")
    assert all(len(kinds) == 1 for kinds in autoscalers.values()), autoscalers
    for deployment in rendered.of("Deployment"):
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    expected = "ScaledObject" if rendered.overlay == "prod" else "HorizontalPodAutoscaler"
    assert autoscalers["automation-executor"] == [expected]
    for hpa in rendered.of("HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == "automation-executor":
            assert hpa["spec"]["maxReplicas"] <= partitions
    if rendered.overlay == "prod":  # at least two of each service
        assert rendered.one("HorizontalPodAutoscaler", "automation-trigger")["spec"]["minReplicas"] >= 2
        assert rendered.one("ScaledObject", "automation-executor")["spec"]["minReplicaCount"] >= 2


def test_disruption_budgets_cover_both_services(rendered):
    budgets = rendered.of("PodDisruptionBudget")
    for deployment in rendered.of("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert budget["spec"]["maxUnavailable"] == 1


def test_retention_cron_job_never_overlaps(rendered):
    cron = rendered.one("CronJob", "automation-prune")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_network_policies_deny_by_default_and_allow_only_what_is_needed(rendered):
    policies = rendered.of("NetworkPolicy")
    (deny,) = [p for p in policies if p["metadata"]["name"] == "automation-default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for component, template in rendered.pod_templates().items():
        labels = template["metadata"]["labels"]
        applying = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        egress = {
            port["port"] for p in applying for rule in p["spec"].get("egress", []) for port in rule["ports"]
        }
        ingress = {
            port["port"] for p in applying for rule in p["spec"].get("ingress", []) for port in rule["ports"]
        }
        assert egress == EGRESS_PORTS[component], component
        assert ingress == INGRESS_PORTS[component], component
        for policy in applying:
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']}: ingress from anywhere"
                for peer in rule["from"]:
                    assert "ipBlock" not in peer and peer.get("podSelector", {}).get("matchLabels"), peer
    trigger = rendered.one("NetworkPolicy", "automation-trigger")["spec"]["ingress"]
    grpc_port = int(rendered.config["AUTOMATION_GRPC_PORT"])
    (grpc_rule,) = [r for r in trigger if {p["port"] for p in r["ports"]} == {grpc_port}]
    assert grpc_rule["from"][0]["podSelector"]["matchLabels"] == {
        "automation.petsit.io/trigger-client": "true"
    }
