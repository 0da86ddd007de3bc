"""The executor's start-up checks through its real entry point (``python -m executor_service``): a
missing credential or identifier ends it before it consumes, with exit code 2 and one line naming every
missing setting; a complete configuration goes on to wait for the schema (and stops cleanly on SIGTERM).
No broker, Redis or database server is needed: the checks run before any connection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared.db.schema import code_revisions
from shared.startup import CONFIG_ERROR_EXIT_CODE
from tests.support.automations import settings_file

ROOT = Path(__file__).resolve().parent.parent


def executor_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env.update(
        AUTOMATION_VAR_DIR=str(tmp_path),
        AUTOMATION_EXECUTOR_METRICS_PORT="0",
        AUTOMATION_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",  # never reached: it stops before
        AUTOMATION_REDIS_URL="redis://127.0.0.1:1/0",
    )
    env.update({f"AUTOMATION_{k.upper()}": v for k, v in settings.items()})
    return env


def refused(tmp_path: Path, service: str = "executor_service", **settings: str) -> str:
    """Run the service; it must exit 2 with exactly one line on stderr; return that line's message."""
    done = subprocess.run(
        [sys.executable, "-m", service],
        cwd=ROOT,
        env=executor_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == CONFIG_ERROR_EXIT_CODE, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    entry = json.loads(lines[0])
    name = service.replace("_", " ")
    assert entry["level"] == "error" and entry["msg"].startswith(f"{name} cannot start: ")
    return entry["msg"]


def test_sms_default_without_account_or_token(tmp_path: Path) -> None:
    line = refused(tmp_path, default_channel="sms")
    assert "missing settings: AUTOMATION_SMS_ACCOUNT_SID, AUTOMATION_SMS_AUTH_TOKEN (sms channel" in line
    line = refused(tmp_path, default_channel="sms", sms_account_sid="AC123")
    assert "AUTOMATION_SMS_AUTH_TOKEN" in line and "AUTOMATION_SMS_ACCOUNT_SID" not in line


def test_every_channel_in_use_is_named_at_once(tmp_path: Path) -> None:
    """Default webhook without URL, sitters on sms, clients on email with a login but no password."""
    automations = settings_file(tmp_path / "routed.toml", channels={"sitter": "sms", "client": "email"})
    line = refused(
        tmp_path,
        default_channel="webhook",
        automations_file=str(automations),
        smtp_username="mailer",
    )
    for name in (
        "AUTOMATION_WEBHOOK_URL",
        "AUTOMATION_SMS_ACCOUNT_SID",
        "AUTOMATION_SMS_AUTH_TOKEN",
        "AUTOMATION_SMTP_HOST",
        "AUTOMATION_SMTP_PASSWORD",
    ):
        assert name in line, f"{name} not named in {line!r}"


def test_an_invalid_setting_is_one_line_without_its_value(tmp_path: Path) -> None:
    line = refused(tmp_path, smtp_port="not-a-port-s3cr3t", liveness_stall_s="0")
    assert "AUTOMATION_SMTP_PORT" in line and "AUTOMATION_LIVENESS_STALL_S" in line
    assert "s3cr3t" not in line


def test_kafka_sasl_without_credentials_stops_both_services(tmp_path: Path) -> None:
    for service in ("executor_service", "trigger_service"):
        line = refused(tmp_path, service, kafka_security_protocol="SASL_SSL", kafka_sasl_username="svc")
        assert line.endswith("missing settings: AUTOMATION_KAFKA_SASL_PASSWORD (Kafka SASL_SSL)"), line


def test_a_complete_configuration_waits_for_the_schema_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Credentials present (from the Secret's keys) -> no refusal; the empty SQLite database then keeps
    it waiting for automation-migrate (no broker is needed for that), and SIGTERM ends it with 0."""
    env = executor_env(tmp_path, default_channel="sms", sms_account_sid="AC123", sms_auth_token="tok")
    log_path = tmp_path / "executor.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "executor_service"], cwd=ROOT, env=env, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while "waiting for the database schema" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log_path.read_text()
    assert f"database schema at none, needs {code_revisions()[0]}: run automation-migrate" in text
    assert "stopped before consuming" in text and "cannot start" not in text
