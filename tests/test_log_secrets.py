"""No secret and no contact detail in the logs: the JSON formatter masks phone numbers, e-mail addresses
and URL passwords at every level, and an end-to-end run (trigger + executor, a failing webhook, DEBUG
logging of every library, credentials in the settings) logs none in full."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import make_url

from shared.config import Settings
from shared.logs import JsonFormatter
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.retry import RetryPolicy
from shared.tracing import install_log_context, log_context
from tests.support.pipeline import running_executor, running_trigger, wait_rows, wait_until
from tests.support.sample import sample_request

PHONES = ["+14155550123", "+14155550177", "+442071838750"]  # client, sitter, in the notes
EMAILS = ["zoe.private+pets@example.com", "notes.person@example.org"]
SECRETS = {
    "redis": "RedisPassw0rd-x7",
    "database": "DbPassw0rd-q9",
    "sms": "SmsAuthT0ken-k3",
    "smtp": "SmtpPassw0rd-m5",
    "sasl": "SaslPassw0rd-z2",
}


def leaks(text: str) -> list[str]:
    """Every phone number (E.164 or national part), e-mail address (or its local part) and secret that
    appears in full in ``text``."""
    found = [p for phone in PHONES for p in (phone, phone[2:]) if p in text]
    found += [e for email in EMAILS for e in (email, email.split("@")[0]) if e in text]
    return found + [s for s in SECRETS.values() if s in text]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log record of every logger, DEBUG and up, as the services write it (JSON lines)."""
    install_log_context()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root, sqlalchemy = logging.getLogger(), logging.getLogger("sqlalchemy")  # which defaults itself to WARN
    levels = root.level, sqlalchemy.level
    root.setLevel(logging.DEBUG)
    sqlalchemy.setLevel(logging.DEBUG)  # every statement, its parameters and the rows it returned
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        sqlalchemy.setLevel(levels[1])


@pytest.mark.parametrize(
    "level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
)
def test_every_part_of_a_line_is_masked_at_every_level(captured: io.StringIO, level: int) -> None:
    log = logging.getLogger("tests.log_secrets")
    try:
        raise ValueError(f"refused {PHONES[0]} and {EMAILS[0]}")
    except ValueError:
        with log_context(to=PHONES[1]):
            log.log(
                level,
                "sending to %s / %s via redis://u:%s@h:6379/0",
                PHONES[0],
                EMAILS[0],
                SECRETS["redis"],
                extra={"to": {"phones": [PHONES[2]], "email": EMAILS[1]}, "n": 3},
                exc_info=True,
                stack_info=True,
            )
    [line] = captured.getvalue().splitlines()
    entry = json.loads(line)
    assert leaks(line) == []
    assert entry["msg"] == "sending to +1********23 / z***@example.com via redis://u:***@h:6379/0"
    assert entry["to"] == {"phones": ["+4*********50"], "email": "n***@example.org"}
    assert entry["n"] == 3
    assert "ValueError: refused +1********23 and z***@example.com" in entry["exc"]
    assert "stack" in entry


@pytest.fixture
def database_url(request: pytest.FixtureRequest, postgres_admin_url: str | None) -> str:
    """PostgreSQL when there is one (its URL can carry a password), else SQLite."""
    return request.getfixturevalue("postgres_url" if postgres_admin_url else "sqlite_url")


def _with_credentials(settings: Settings) -> Settings:
    """The test's settings with passwords in the Redis and database URLs (the servers here accept any:
    Redis' default user has no password, PostgreSQL trusts local connections) and channel secrets."""
    redis_url = settings.redis_url.get_secret_value().replace(
        "redis://", f"redis://default:{SECRETS['redis']}@"
    )
    database_url = settings.sqlalchemy_url
    if database_url.startswith("postgresql"):
        url = make_url(database_url).set(password=SECRETS["database"])
        database_url = url.render_as_string(hide_password=False)
    return settings.model_copy(
        update={
            "redis_url": SecretStr(redis_url),
            "database_url": SecretStr(database_url),
            "sms_auth_token": SecretStr(SECRETS["sms"]),
            "smtp_password": SecretStr(SECRETS["smtp"]),
            "kafka_sasl_password": SecretStr(SECRETS["sasl"]),
            "retry_policy": RetryPolicy(max_attempts=2, base_s=1.0, jitter_ratio=0.0),
        }
    )


def _requests() -> list[pb.EnqueueAutomationRequest]:
    booking = f"b-{uuid.uuid4().hex[:8]}"
    confirmation = sample_request(booking, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT)
    assignment = sample_request(booking, pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_SITTER)
    alert = sample_request(booking, pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER)
    for request in (confirmation, assignment, alert):
        request.booking.client.phone, request.booking.client.email = PHONES[0], EMAILS[0]
        request.booking.sitter.CopyFrom(pb.Sitter(id="s-1", name="Sam", phone=PHONES[1]))
        request.booking.notes = f"Call {PHONES[2]} or write to {EMAILS[1]}."
    return [confirmation, assignment, alert]


@pytest.mark.slow
def test_an_end_to_end_run_logs_no_secret_and_no_contact_detail(
    settings: Settings, http_receiver, captured: io.StringIO
) -> None:
    settings = _with_credentials(settings)
    http_receiver.respond_with([500, 200, 500])  # failures, retries, and a dead letter or a success
    requests = _requests()
    invalid = sample_request("b-invalid")
    invalid.booking.client.email = PHONES[0]  # a phone where an e-mail belongs: refused, never echoed
    with running_trigger(settings) as (stub, _), running_executor(settings):
        answers = [stub.EnqueueAutomation(r, timeout=10) for r in requests]
        with pytest.raises(Exception, match="INVALID_ARGUMENT|invalid"):
            stub.EnqueueAutomation(invalid, timeout=10)
        job_ids = {a.job_id for a in answers}
        final = {"succeeded", "dead_lettered"}

        def finished() -> bool:
            runs = stub.GetAutomationRuns(pb.GetAutomationRunsRequest(booking_id=requests[0].booking.id))
            return {r.job_id for r in runs.runs if r.status in final} >= job_ids

        wait_until(finished, timeout_s=60, interval_s=0.5, what="every job succeeded or dead-lettered")
        stub.CancelAutomations(pb.CancelAutomationsRequest(booking_id=requests[0].booking.id), timeout=10)
    text = captured.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    loggers = {line["logger"].split(".")[0] for line in lines}
    print(f"{len(lines)} log lines from {sorted(loggers)}")
    assert {"trigger_service", "executor_service", "sqlalchemy"} <= loggers, "not everything was captured"
    assert any(line["level"] == "debug" for line in lines)
    assert len(http_receiver.requests) >= 3, "the webhook was not called"
    assert leaks(text) == [], "secrets or contact details in the logs"


@pytest.mark.slow
def test_eventlog_rows_keep_contacts_masked_when_asked(settings: Settings, http_receiver) -> None:
    """AUTOMATION_EVENTLOG_REDACT_CONTACTS through the executor: the delivered job's row is masked, the
    dead letter's keeps what a replay needs. Two jobs of one booking run in order: 200, then 400."""
    settings = settings.model_copy(update={"eventlog_redact_contacts": True})
    http_receiver.respond_with([200, 400])
    delivered, refused, _ = _requests()
    with running_trigger(settings) as (stub, _), running_executor(settings):
        first = stub.EnqueueAutomation(delivered, timeout=10)
        second = stub.EnqueueAutomation(refused, timeout=10)
        [ok] = wait_rows(settings.sqlalchemy_url, 1, job_id=first.job_id, status="succeeded")
        [dead] = wait_rows(settings.sqlalchemy_url, 1, job_id=second.job_id, status="dead_lettered")
    masked = ok.inputs["booking"]
    assert (masked["client"]["phone"], masked["client"]["email"]) == ("+1********23", "z***@example.com")
    assert masked["sitter"]["phone"] == "+1********77"
    assert leaks(json.dumps(ok.inputs)) == []
    assert ok.outputs["body"] and ok.outputs["channel_response"]["http_status"] == 200
    assert dead.inputs["booking"]["client"]["phone"] == PHONES[0]
