"""Each overlay starts as shipped once the Secret exists: every container of the rendered objects runs
here, as a process with the container's command and the environment the kubelet would give it
(the generated ConfigMap, the Secret keys it references), against a real broker, Redis and database.

What differs from a cluster, and why: ports are free local ports (others run tests beside this one), topic
replication is 1 (one local broker), the files the pod mounts (settings file, callers' tokens) are written
to a temporary folder, and the pod's paths are rewritten to it. Everything else is the rendered value."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from devtools.embedded import free_port
from tests.conftest import KAFKA_SESSION_TIMEOUT_MS
from tests.support.deploy_tools import ROOT, require_tool
from tests.support.k8s_render import K8S, containers, render_dir

BIN = Path(sys.executable).parent
TOKEN = "ops-" + "5" * 40


def ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def container_env(
    container: dict[str, Any], config_map: dict[str, Any], config: dict[str, str], secret: dict[str, str]
) -> dict[str, str]:
    """What the kubelet gives ``container``: envFrom the ConfigMap, then its env (Secret keys; an
    optional key absent from the Secret sets nothing, a required one must be there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOMATION_", "AUTOMATIONCTL_"))}
    names = [source["configMapRef"]["name"] for source in container["envFrom"]]
    assert names == [config_map["metadata"]["name"]], names
    env.update(config)
    for item in container.get("env", []):
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["key"] in secret:
            env[item["name"]] = secret[ref["key"]]
        else:
            assert ref.get("optional"), f"{container['name']}: the Secret must have {ref['key']}"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rendered_containers_start_and_serve(overlay, kafka_bootstrap, kafka_topic, redis_db_url, tmp_path):
    _, docs = render_dir(require_tool("kubectl"), K8S / "overlays" / overlay)
    by_name = {
        (
            d["kind"],
            d["metadata"]["name"].rsplit("-", 1)[0] if d["kind"] == "ConfigMap" else d["metadata"]["name"],
        ): d
        for d in docs
    }
    config_map = by_name[("ConfigMap", "automation-config")]
    config = dict(config_map["data"])
    settings_file = by_name[("ConfigMap", "automation-settings")]["data"]["automations.toml"]
    trigger_pod = by_name[("Deployment", "automation-trigger")]["spec"]["template"]
    executor_pod = by_name[("Deployment", "automation-executor")]["spec"]["template"]

    # The pod's files, at paths of this machine.
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings/automations.toml").write_text(settings_file)
    (tmp_path / "auth").mkdir()
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    (tmp_path / "auth/auth-tokens.json").write_text(
        json.dumps({"ops": {"token_sha256": digest, "scopes": ["read", "enqueue"]}})
    )
    (tmp_path / "ops.token").write_text(TOKEN)
    assert config["AUTOMATION_AUTOMATIONS_FILE"] == "/etc/automation/settings/automations.toml"
    if overlay == "prod":
        assert config["AUTOMATION_AUTH_TOKENS_FILE"] == "/etc/automation/auth/auth-tokens.json"
        config["AUTOMATION_AUTH_TOKENS_FILE"] = str(tmp_path / "auth/auth-tokens.json")
    grpc_port, trigger_metrics, executor_metrics = free_port(), free_port(), free_port()
    config.update(
        AUTOMATION_AUTOMATIONS_FILE=str(tmp_path / "settings/automations.toml"),
        AUTOMATION_VAR_DIR=str(tmp_path / "var"),
        AUTOMATION_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        AUTOMATION_TOPIC_REPLICATION_FACTOR="1",
        AUTOMATION_JOBS_TOPIC=kafka_topic(1),
        AUTOMATION_CONSUMER_GROUP=f"deploy-{os.getpid()}-{time.monotonic_ns()}",
        AUTOMATION_SESSION_TIMEOUT_MS=str(KAFKA_SESSION_TIMEOUT_MS),
        AUTOMATION_GRPC_PORT=str(grpc_port),
        AUTOMATION_TRIGGER_METRICS_PORT=str(trigger_metrics),
        AUTOMATION_EXECUTOR_METRICS_PORT=str(executor_metrics),
    )
    # The Secret automation-secrets with the keys deploy/k8s/README.md lists (prod: the sms channel's).
    secret = {
        "AUTOMATION_REDIS_URL": redis_db_url,
        "AUTOMATION_DATABASE_URL": f"sqlite:///{tmp_path}/eventlog.db",
    }
    if overlay == "prod":
        secret["AUTOMATION_SMS_ACCOUNT_SID"] = "AC" + "0" * 32
        secret["AUTOMATION_SMS_AUTH_TOKEN"] = "sms-token-from-the-secret"

    def run(container: dict[str, Any], **popen: Any) -> subprocess.Popen:
        command = [str(BIN / container["command"][0]), *container["command"][1:]]
        return subprocess.Popen(
            command, cwd=ROOT, env=container_env(container, config_map, config, secret), **popen
        )

    # Init containers first, in order; each must exit 0.
    for init in trigger_pod["spec"]["initContainers"]:
        done = run(init, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = done.communicate(timeout=120)[0]
        assert done.returncode == 0, f"init container {init['name']}:\n{output}"

    with ExitStack() as stack:
        logs = {}
        for pod, port in ((trigger_pod, trigger_metrics), (executor_pod, executor_metrics)):
            (container,) = pod["spec"]["containers"]
            logs[container["name"]] = log_path = tmp_path / f"{container['name']}.log"
            with open(log_path, "wb") as log:
                proc = run(container, stdout=log, stderr=subprocess.STDOUT)
            stack.callback(lambda p=proc: (p.terminate(), p.wait(timeout=40)))
            probes = {
                kind: container[kind]["httpGet"]["path"] for kind in ("livenessProbe", "readinessProbe")
            }
            deadline = time.monotonic() + 60
            # The kubelet's probes, as rendered (path on the metrics port).
            while not all(ok(f"http://127.0.0.1:{port}{path}") for path in probes.values()):
                assert proc.poll() is None, f"{container['name']} exited:\n{log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, (
                    f"{container['name']} not ready:\n{log_path.read_text()[-3000:]}"
                )
                time.sleep(0.2)

        # prod authenticates callers: the runbook's command with the operator's token works, without a
        # token it is refused (exit 5). dev (no authentication, opted in) answers anyone.
        ctl = [
            str(BIN / "automationctl"),
            "runs",
            "--booking-id",
            "B-1",
            "--target",
            f"127.0.0.1:{grpc_port}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOMATION_", "AUTOMATIONCTL_"))}
        with open(tmp_path / "ops.token") as token:
            allowed = subprocess.run(
                [*ctl, "--token-file", "/dev/stdin"],
                stdin=token,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        anonymous = subprocess.run(ctl, env=env, capture_output=True, text=True, timeout=60)
        assert anonymous.returncode == (5 if overlay == "prod" else 0), anonymous.stdout + anonymous.stderr
    for name, path in logs.items():
        assert TOKEN not in path.read_text(), f"{name} logged the token"
    assert containers(trigger_pod)[0]["name"] == "migrate"
