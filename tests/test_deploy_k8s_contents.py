"""deploy/k8s agrees with the services: settings, secrets by reference, ports and probes, grace periods,
images and commands, restricted pods, autoscalers, disruption budgets, the retention CronJob and the
network policies (objects rendered once per module by tests/support/k8s_render.py)."""

from __future__ import annotations

import os
import re

from shared.config import Settings
from tests.support.k8s_render import (
    COMMANDS,
    EGRESS_PORTS,
    INGRESS_PORTS,
    SECRET_NAME,
    SECRET_SETTINGS,
    UID,
    containers,
    selects,
)

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
