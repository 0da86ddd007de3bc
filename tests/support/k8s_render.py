"""Rendering deploy/k8s once per test module, and what the deploy tests share (constants, helpers).

Registered as a pytest plugin in tests/conftest.py, so its fixtures (``renders``, ``rendered``,
``checkov_report``) are available to tests/test_deploy_k8s*.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import SecretStr

from shared.config import Settings
from tests.support.deploy_tools import describe, require_tool, run_tool

OVERLAYS = ("dev", "prod")
# The oldest version the manifests need (preStop `sleep` is on by default from 1.30) and the newest the
# pinned kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
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
