"""Rendering deploy/k8s once per test module, and what the deploy tests share (constants, helpers).

Registered as a pytest plugin in tests/conftest.py, so its fixtures (``renders``, ``rendered``,
``checkov_report``) are available to tests/test_deploy_k8s*.py.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import SecretStr

from shared.config import Settings
from tests.support.deploy_tools import ROOT, describe, require_tool, run_tool

K8S = ROOT / "deploy/k8s"
K8S_README = K8S / "README.md"
# What each render is: an overlay as shipped, or a copy changed the documented way (`kustomize edit set
# image` for a release; the optional security components added to prod). Every test of the rendered
# objects runs on each, so a documented change cannot fail the project's own checks.
VARIANTS = ("dev", "prod", "prod-pinned", "prod-secure")
PINNED_IMAGE = "registry.example.com/petsit/automation"
PINNED_TAG = "0.1.0"
PINNED_DIGEST = "sha256:" + "0123456789abcdef" * 4
SECURITY_COMPONENTS = ("kafka-security", "keda-kafka-auth", "trigger-mtls")
KAFKA_TLS_PORT = 9093


def min_kubernetes_version() -> str:
    """The minimum Kubernetes version, stated once in deploy/k8s/README.md ("**Kubernetes 1.NN**")."""
    found = re.findall(r"Minimum Kubernetes version: \*\*(1\.\d+)\*\*", K8S_README.read_text())
    assert len(found) == 1, found
    return found[0]


# The oldest version the manifests support (preStop `sleep` is on by default from 1.30) and the newest the
# pinned kubernetes-validate ships.
KUBERNETES_VERSIONS = (f"{min_kubernetes_version()}.0", "1.37.0")
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
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
# Identifiers that travel with their secret (an account SID with its token, a login's user name): they come
# from the Secret as well, never from the ConfigMap.
CREDENTIAL_SETTINGS = sorted(
    {
        *SECRET_SETTINGS,
        "AUTOMATION_SMS_ACCOUNT_SID",
        "AUTOMATION_SMTP_USERNAME",
        "AUTOMATION_KAFKA_SASL_USERNAME",
    }
)
SECRET_NAME = "automation-secrets"
# Secrets mounted as files: (Secret, key) -> the setting naming the file.
SECRET_FILES = {
    (SECRET_NAME, "auth-tokens.json"): "AUTOMATION_AUTH_TOKENS_FILE",
    (SECRET_NAME, "kafka-ca.crt"): "AUTOMATION_KAFKA_SSL_CA_FILE",
    ("automation-trigger-tls", "tls.crt"): "AUTOMATION_TLS_CERT_FILE",
    ("automation-trigger-tls", "tls.key"): "AUTOMATION_TLS_KEY_FILE",
    ("automation-trigger-tls", "ca.crt"): "AUTOMATION_TLS_CLIENT_CA_FILE",
}
UID = 10001
# What each component's pods may reach, and on which ports they may be reached.
EGRESS_PORTS = {
    "trigger": {53, 9092, 6379, 5432},
    "executor": {53, 9092, 6379, 5432, 443, 25, 587, 465},
    "prune": {53, 5432},
}
INGRESS_PORTS = {
    "trigger": {50051, 8001},
    "executor": {8002},
    "prune": set(),
}
# Command of each container, by name (init containers included).
COMMANDS = {
    "migrate": ["automation-migrate"],
    "topics": ["automationctl", "topics", "ensure"],
    "trigger": ["automation-trigger"],
    "executor": ["automation-executor"],
    "prune": ["automationctl", "prune", "--yes"],  # no terminal in a CronJob
}


def pin_image(kustomization: Path) -> None:
    """What `kustomize edit set image automation=<registry>/automation:<tag>@<digest>` does to a
    kustomization.yaml (kustomize v5: newName, newTag and digest on the `automation` entry)."""
    doc = yaml.safe_load(kustomization.read_text())
    (entry,) = [image for image in doc["images"] if image["name"] == "automation"]
    entry.update(newName=PINNED_IMAGE, newTag=PINNED_TAG, digest=PINNED_DIGEST)
    kustomization.write_text(yaml.safe_dump(doc, sort_keys=False))


def add_components(kustomization: Path, names: tuple[str, ...]) -> None:
    doc = yaml.safe_load(kustomization.read_text())
    doc["components"] = [*doc.get("components", []), *(f"../../components/{name}" for name in names)]
    kustomization.write_text(yaml.safe_dump(doc, sort_keys=False))


def render_dir(kubectl: str, path: Path) -> tuple[str, list[dict[str, Any]]]:
    result = run_tool([kubectl, "kustomize", str(path)])
    assert result.returncode == 0, f"{path}: {describe(result)}"
    return result.stdout, [d for d in yaml.safe_load_all(result.stdout) if d]


def variant_dir(variant: str, scratch: Path) -> Path:
    """The overlay folder to render for ``variant`` (a changed copy of deploy/k8s where needed)."""
    if variant in ("dev", "prod"):
        return K8S / "overlays" / variant
    copy = scratch / variant
    shutil.copytree(K8S, copy)
    overlay = copy / "overlays/prod"
    if variant == "prod-pinned":
        pin_image(overlay / "kustomization.yaml")
    elif variant == "prod-secure":  # as components/kafka-security says: brokers on the TLS listener
        add_components(overlay / "kustomization.yaml", SECURITY_COMPONENTS)
        for name in ("kustomization.yaml", "executor-scaledobject.yaml"):
            text = (overlay / name).read_text()
            assert "kafka-bootstrap.kafka.svc:9092" in text, name
            (overlay / name).write_text(text.replace(":9092", f":{KAFKA_TLS_PORT}"))
    return overlay


@dataclass
class Rendered:
    overlay: str  # the variant: dev, prod, prod-pinned, prod-secure
    path: Path
    docs: list[dict[str, Any]]

    @property
    def environment(self) -> str:
        """dev or prod: the overlay the variant is made from."""
        return self.overlay.split("-")[0]

    @property
    def secure(self) -> bool:
        return self.overlay == "prod-secure"

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

    @property
    def settings_file(self) -> dict[str, Any]:
        (config_map,) = [
            d for d in self.of("ConfigMap") if d["metadata"]["name"].startswith("automation-settings")
        ]
        return config_map

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
    """Every variant rendered once, each to <tmp>/<variant>.yaml in one folder (checkov reads them all)."""
    kubectl = require_tool("kubectl")
    folder = tmp_path_factory.mktemp("k8s")
    scratch = tmp_path_factory.mktemp("k8s-copies")
    renders = {}
    for variant in VARIANTS:
        text, docs = render_dir(kubectl, variant_dir(variant, scratch))
        path = folder / f"{variant}.yaml"
        path.write_text(text)
        renders[variant] = Rendered(variant, path, docs)
    return renders


@pytest.fixture(scope="module", params=VARIANTS)
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
