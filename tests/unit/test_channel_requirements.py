"""Which channels are in use, and what each needs before the executor may start."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import SecretStr

from executor_service.channel_registry import channels_in_use, missing_settings
from executor_service.startup import sitters_by_email, slow_channels
from shared.automation_settings import load_automation_settings
from shared.config import Settings
from shared.startup import missing_backend_settings
from tests.support.automations import settings_file


@pytest.fixture(scope="module")
def shipped():
    return load_automation_settings()


def routed(tmp_path, **channels: str):
    return load_automation_settings(settings_file(tmp_path / "a.toml", channels=channels))


def test_the_default_channel_counts_even_if_no_recipient_uses_it(tmp_path) -> None:
    automations = routed(tmp_path, client="log", owner="log", sitter="log")
    users = channels_in_use(Settings(default_channel="webhook"), automations)
    assert users["webhook"] == ["AUTOMATION_DEFAULT_CHANNEL"]
    assert missing_settings(Settings(default_channel="webhook"), automations) == [
        "AUTOMATION_WEBHOOK_URL (webhook channel, used by AUTOMATION_DEFAULT_CHANNEL)"
    ]


def test_sms_as_default_needs_account_and_token(shipped) -> None:
    [problem] = missing_settings(Settings(default_channel="sms"), shipped)
    assert problem.startswith("AUTOMATION_SMS_ACCOUNT_SID, AUTOMATION_SMS_AUTH_TOKEN (sms channel")
    ok = Settings(default_channel="sms", sms_account_sid="AC1", sms_auth_token=SecretStr("t"))
    assert missing_settings(ok, shipped) == []


def test_a_recipient_on_sms_needs_it_while_the_default_is_log(tmp_path) -> None:
    automations = routed(tmp_path, sitter="sms")
    [problem] = missing_settings(Settings(default_channel="log"), automations)
    assert "AUTOMATION_SMS_ACCOUNT_SID, AUTOMATION_SMS_AUTH_TOKEN (sms channel, used by" in problem
    assert "AUTOMATION_DEFAULT_CHANNEL" not in problem, "the default channel is log"


def test_disabled_recipients_need_nothing(tmp_path) -> None:
    automations = routed(tmp_path, sitter="sms")
    off = {
        name: replace(kind, recipients={r: replace(s, enabled=False) for r, s in kind.recipients.items()})
        for name, kind in automations.types.items()
    }
    assert missing_settings(Settings(), replace(automations, types=off)) == []


def test_email_needs_a_host_and_both_halves_of_a_login(tmp_path) -> None:
    automations = routed(tmp_path, client="email")
    [problem] = missing_settings(Settings(), automations)
    assert problem.startswith("AUTOMATION_SMTP_HOST (email channel")
    half = Settings(smtp_host="mail.example", smtp_username="mailer")
    assert missing_settings(half, automations)[0].startswith("AUTOMATION_SMTP_PASSWORD (email")
    other_half = Settings(smtp_host="mail.example", smtp_password=SecretStr("p"))
    assert missing_settings(other_half, automations)[0].startswith("AUTOMATION_SMTP_USERNAME (email")
    assert missing_settings(Settings(smtp_host="mail.example"), automations) == []


def test_settings_file_senders_are_named(tmp_path) -> None:
    automations = routed(tmp_path, owner="sms", client="email")
    senders = replace(automations.senders, sms_from="", owner_phone="", email_from="")
    ready = Settings(sms_account_sid="AC1", sms_auth_token=SecretStr("t"), smtp_host="mail.example")
    problems = missing_settings(ready, replace(automations, senders=senders))
    assert problems == [
        "senders.email_from (email channel, used by 6 recipients)",
        "senders.sms_from, senders.owner_phone (sms channel, used by ownerNewBookingAlert/owner)",
    ]


def test_channels_slower_than_the_stall_time_are_reported(shipped) -> None:
    settings = Settings(default_channel="webhook", webhook_url="http://x", webhook_timeout_s=200)
    assert slow_channels(settings, shipped) == {"webhook": 200}
    assert slow_channels(settings.model_copy(update={"webhook_timeout_s": 5}), shipped) == {}


def test_sitters_sent_by_email_are_named(shipped, tmp_path) -> None:
    """The API carries no e-mail address for a sitter: a sitter recipient on the email channel can never
    be sent to, which the executor warns about at start."""
    mailing = Settings(default_channel="email", smtp_host="mail.example")
    assert sitters_by_email(mailing, shipped) == ["nightBeforeReminder/sitter", "sitterAssignment/sitter"]
    assert sitters_by_email(Settings(), shipped) == []
    assert sitters_by_email(Settings(), routed(tmp_path, client="email", owner="log", sitter="sms")) == []


def test_kafka_security_names_its_missing_credentials() -> None:
    assert missing_backend_settings(Settings()) == []
    sasl = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="svc")
    assert missing_backend_settings(sasl) == ["AUTOMATION_KAFKA_SASL_PASSWORD (Kafka SASL_SSL)"]
    cert_only = Settings(kafka_security_protocol="SSL", kafka_ssl_cert_file="/c.pem")
    assert missing_backend_settings(cert_only) == ["AUTOMATION_KAFKA_SSL_KEY_FILE (Kafka SSL)"]
    complete = sasl.model_copy(update={"kafka_sasl_password": SecretStr("p")})
    assert missing_backend_settings(complete) == []
