"""Every setting is documented in .env.example and the README, under its AUTOMATION_ name."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ENV_NAMES = sorted(f"AUTOMATION_{name.upper()}" for name in Settings.model_fields)


@pytest.mark.parametrize("doc", [".env.example", "README.md"])
def test_every_setting_is_documented(doc):
    text = (ROOT / doc).read_text()
    missing = [name for name in ENV_NAMES if name not in text]
    assert missing == [], f"{doc} does not mention {missing}"


def test_env_example_parses_into_settings(monkeypatch):
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key.strip(), value.strip())
    settings = Settings()
    assert settings.grpc_port == 50051
    assert settings.trigger_metrics_port == 8001 and settings.executor_metrics_port == 8002
