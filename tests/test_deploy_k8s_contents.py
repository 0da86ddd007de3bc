"""deploy/k8s agrees with the services: settings, secrets by reference, ports and probes, grace periods,
images and commands, restricted pods, autoscalers, disruption budgets, the retention CronJob and the
network policies (objects rendered once per module by tests/support/k8s_render.py, for every variant)."""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath

import pytest

from executor_service.channel_registry import missing_settings
from shared.automation_settings import load_automation_settings
from shared.config import Settings
from tests.support.k8s_render import (
    COMMANDS,
    CREDENTIAL_SETTINGS,
    EGRESS_PORTS,
    INGRESS_PORTS,
    K8S,
    KAFKA_TLS_PORT,
    PINNED_DIGEST,
    PINNED_IMAGE,
    SECRET_FILES,
    SECRET_NAME,
    SECRET_SETTINGS,
    UID,
    containers,
    selects,
)
from trigger_service.exposure import InsecureExposureError, check_exposure

# --- agreement with the services ----------------------------------------------------------------


def settings_from(config: dict[str, str], monkeypatch, **extra: str) -> Settings:
    """Settings as a container with this ConfigMap (and ``extra`` variables) would read them."""
    for name in list(os.environ):
        if name.startswith("AUTOMATION_"):
            monkeypatch.delenv(name)
    for name, value in {**config, **extra}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_config_map_holds_only_known_non_secret_settings(rendered, monkeypatch):
    config = rendered.config
    known = {f"AUTOMATION_{name.upper()}" for name in Settings.model_fields}
    assert set(config) <= known, f"not a setting (a typo would be ignored silently): {set(config) - known}"
    # Credentials come from the Secret only: a ConfigMap value, even empty, would stand in for a missing
    # key (an empty AUTOMATION_SMS_ACCOUNT_SID made the executor crash-loop).
    assert not set(config) & set(CREDENTIAL_SETTINGS)
    assert all(value.strip() for value in config.values()), {k for k, v in config.items() if not v.strip()}
    assert "AUTOMATION_FAILPOINT" not in config
    settings = settings_from(config, monkeypatch)  # the services would start with these values
    assert str(settings.var_dir) == "/var/lib/automation"
    assert settings.listen_host == settings.metrics_listen_host == "0.0.0.0"
    # The trigger's own start-up check: prod authenticates callers, dev opts out explicitly.
    check_exposure(settings, settings.listen_host)
    if rendered.environment == "prod":
        assert settings.auth_mode in ("token", "mtls+token") and settings.auth_tokens_file is not None
        assert not settings.insecure_allow_unauthenticated
    else:
        assert settings.auth_mode == "none" and settings.insecure_allow_unauthenticated


def test_base_alone_refuses_an_unauthenticated_api(monkeypatch):
    # Safe by default: the base listens on 0.0.0.0 and chooses no authentication, so a trigger started
    # with the base's settings alone refuses to serve (each overlay must choose).
    lines = (K8S / "base/config.env").read_text().splitlines()
    config = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    settings = settings_from(config, monkeypatch)
    with pytest.raises(InsecureExposureError):
        check_exposure(settings, settings.listen_host)


def secret_files(secret: dict) -> list[tuple[str, str]]:
    """(key, file name) of a Secret volume: its items, or every known key of that Secret."""
    if "items" in secret:
        return [(item["key"], item["path"]) for item in secret["items"]]
    return [(key, key) for name, key in SECRET_FILES if name == secret["secretName"]]


def test_secrets_come_only_from_the_secret_by_reference(rendered):
    # Every secret setting reaches the executor; the others get what they use (Kafka's SASL login
    # wherever Kafka is used). A new secret setting fails here until the manifests pass it on.
    kafka = {name for name in CREDENTIAL_SETTINGS if name.startswith("AUTOMATION_KAFKA_")}
    needed = {
        "trigger": {"AUTOMATION_REDIS_URL", "AUTOMATION_DATABASE_URL", *kafka},
        "migrate": {"AUTOMATION_DATABASE_URL"},
        "topics": kafka,
        "executor": set(CREDENTIAL_SETTINGS),
        "prune": {"AUTOMATION_DATABASE_URL"},
    }
    required = {"AUTOMATION_REDIS_URL", "AUTOMATION_DATABASE_URL"}  # no service runs without them
    config_maps = {d["metadata"]["name"] for d in rendered.of("ConfigMap")}
    config = rendered.config
    files_seen = set()
    for template in rendered.pod_templates().values():
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for volume in volumes.values():
            if "secret" in volume:
                assert volume["secret"]["secretName"] in {name for name, _ in SECRET_FILES}, volume
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
                    assert ref.get("optional", False) is (env["name"] not in required), env
                    referenced.add(env["name"])
            assert referenced == needed[container["name"]], container["name"]
            # Secrets as files only for the file settings (tokens, TLS material): read-only, at the
            # path the setting names.
            for mount in container.get("volumeMounts", []):
                secret = volumes[mount["name"]].get("secret")
                if secret is None:
                    continue
                assert mount["readOnly"] is True, mount
                for key, file_name in secret_files(secret):
                    setting = SECRET_FILES[(secret["secretName"], key)]
                    path = str(PurePosixPath(mount["mountPath"]) / file_name)
                    if setting in config:
                        assert config[setting] == path, (setting, path)
                        files_seen.add(setting)
    # Each file setting the ConfigMap names is mounted from the Secret.
    assert files_seen == {setting for setting in SECRET_FILES.values() if setting in config}


def test_prod_starts_once_the_secret_exists(rendered, monkeypatch, tmp_path):
    # The executor checks at start that the channels in use have what they need (and exits naming what
    # is missing). With the Secret's keys present, nothing is missing; without the SMS account it names
    # exactly that key, which the operator then adds to the Secret (never an empty ConfigMap value).
    settings_path = tmp_path / "automations.toml"
    settings_path.write_text(rendered.settings_file["data"]["automations.toml"])
    automations = load_automation_settings(settings_path)
    executor = rendered.one("Deployment", "automation-executor")["spec"]["template"]["spec"]["containers"][0]
    keys = {
        env["name"]: "from-the-secret"
        for env in executor["env"]
        if "secretKeyRef" in env.get("valueFrom", {}) and "SMTP" not in env["name"]
    }
    keys.update(
        AUTOMATION_REDIS_URL="redis://redis:6379/0",
        AUTOMATION_DATABASE_URL="postgresql+psycopg://u:p@db:5432/automation",
        AUTOMATION_AUTOMATIONS_FILE=str(settings_path),
    )
    settings = settings_from(rendered.config, monkeypatch, **keys)
    assert missing_settings(settings, automations) == []
    if settings.default_channel == "sms":
        del keys["AUTOMATION_SMS_ACCOUNT_SID"]
        settings = settings_from(rendered.config, monkeypatch, **keys)
        (problem,) = missing_settings(settings, automations)
        assert problem.startswith("AUTOMATION_SMS_ACCOUNT_SID ("), problem


def test_automation_settings_file_is_the_overlays_and_mounted_where_the_setting_points(rendered, tmp_path):
    config_map = rendered.settings_file
    name = config_map["metadata"]["name"]
    assert re.fullmatch(r"automation-settings-[a-z0-9]{10}", name), "hashed: a change rolls the pods"
    text = config_map["data"]["automations.toml"]
    own = K8S / "overlays" / rendered.environment / "automations.toml"
    assert text == (own if own.exists() else K8S / "base/automations.toml").read_text()
    if rendered.environment == "prod":
        assert own.exists(), "prod ships its own settings file"
    path = tmp_path / "automations.toml"
    path.write_text(text)
    load_automation_settings(path)  # as the services load it at start (templates checked)
    file_setting = PurePosixPath(rendered.config["AUTOMATION_AUTOMATIONS_FILE"])
    for deployment in ("automation-trigger", "automation-executor"):
        spec = rendered.one("Deployment", deployment)["spec"]["template"]["spec"]
        (volume,) = [v for v in spec["volumes"] if v.get("configMap", {}).get("name") == name]
        (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
        assert PurePosixPath(mount["mountPath"]) / "automations.toml" == file_setting
        assert mount["readOnly"] is True


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
    service = rendered.one("Service", "automation-trigger")["spec"]
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["ports"]} == {
        "grpc": (grpc_port, "grpc"),
        "metrics": (trigger_metrics, "metrics"),
    }
    executor = rendered.one("Deployment", "automation-executor")["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in executor["ports"]} == {"metrics": executor_metrics}
    for container in (trigger, executor):
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_no_probe_uses_the_grpc_port(rendered):
    # Probes are plain HTTP on the metrics port, which carries no API: mTLS or tokens on the gRPC port
    # cannot make the kubelet's probes fail.
    grpc_port = int(rendered.config["AUTOMATION_GRPC_PORT"])
    probed = 0
    for template in rendered.pod_templates().values():
        for container in containers(template):
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(kind)
                if probe is None:
                    continue
                probed += 1
                assert set(probe) & {"grpc", "tcpSocket", "exec"} == set(), (container["name"], kind)
                port = probe["httpGet"]["port"]
                assert port == "metrics" and ports[port] != grpc_port, (container["name"], kind)
    assert probed == 6  # three each for the trigger and the executor


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
    images, names = set(), []
    for template in rendered.pod_templates().values():
        for container in containers(template):
            names.append(container["name"])
            assert container["command"] == COMMANDS[container["name"]]
            assert container.get("args") is None
            images.add(container["image"])
            assert container["imagePullPolicy"] == "Always"
    assert sorted(names) == sorted(COMMANDS)
    # Migrations, then topics, before each trigger pod serves.
    trigger = rendered.one("Deployment", "automation-trigger")["spec"]["template"]["spec"]
    assert [c["name"] for c in trigger["initContainers"]] == ["migrate", "topics"]
    (image,) = images
    registry = r"(?:[a-z0-9.-]+(?::\d+)?/)?(?:[a-z0-9._-]+/)*"
    assert re.fullmatch(registry + r"automation:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", image), image
    if rendered.overlay == "prod-pinned":  # `kustomize edit set image` with a registry and a digest
        assert image == f"{PINNED_IMAGE}:0.1.0@{PINNED_DIGEST}"


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
                # No host paths: scratch space, the settings file, Secrets as files (checked above).
                (source,) = set(volume) - {"name"}
                assert source in ("emptyDir", "configMap", "secret"), volume
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
    expected = "ScaledObject" if rendered.environment == "prod" else "HorizontalPodAutoscaler"
    assert autoscalers["automation-executor"] == [expected]
    for hpa in rendered.of("HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == "automation-executor":
            assert hpa["spec"]["maxReplicas"] <= partitions
    if rendered.environment == "prod":  # at least two of each service
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
    # No terminal in a CronJob: prune refuses to delete without --yes (and would exit 2 every night).
    (container,) = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["automationctl", "prune"] and "--yes" in container["command"]


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
        kafka_tls = {KAFKA_TLS_PORT} if rendered.secure and 9092 in EGRESS_PORTS[component] else set()
        assert egress == EGRESS_PORTS[component] | kafka_tls, component
        assert ingress == INGRESS_PORTS[component], component
        for policy in applying:
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']}: ingress from anywhere"
                for peer in rule["from"]:
                    assert "ipBlock" not in peer and peer.get("podSelector", {}).get("matchLabels"), peer
        # The brokers the settings name are reachable (a TLS listener on another port needs its policy).
        if 9092 in EGRESS_PORTS[component]:
            brokers = rendered.config["AUTOMATION_KAFKA_BOOTSTRAP_SERVERS"].split(",")
            assert {int(broker.rsplit(":", 1)[1]) for broker in brokers} <= egress, component
    trigger = rendered.one("NetworkPolicy", "automation-trigger")["spec"]["ingress"]
    grpc_port = int(rendered.config["AUTOMATION_GRPC_PORT"])
    (grpc_rule,) = [r for r in trigger if {p["port"] for p in r["ports"]} == {grpc_port}]
    assert grpc_rule["from"][0]["podSelector"]["matchLabels"] == {
        "automation.petsit.io/trigger-client": "true"
    }
