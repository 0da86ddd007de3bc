"""The executor's channels by name, each built on first use from the env settings (credentials,
endpoints) and the automation settings' senders. ``default`` is AUTOMATION_DEFAULT_CHANNEL.

``missing_settings()`` is the start-up check: every channel in use (the default channel, and the channel
of every enabled recipient in the settings file) must have what it needs to send, or the executor does
not start (executor_service/main.py prints one line naming every missing setting)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from executor_service.automations import RenderedMessage
from executor_service.channels import Channel, LogChannel, NullChannel, WebhookChannel
from executor_service.mail import EmailChannel
from executor_service.sms import SmsChannel
from shared.automation_settings import AutomationSettings, Senders
from shared.config import Settings
from shared.errors import SettingsError
from shared.vocabulary import CHANNEL_NAMES

_DEFAULT = "AUTOMATION_DEFAULT_CHANNEL"


class ChannelRegistry:
    def __init__(
        self, settings: Settings, senders: Senders, *, progress: Callable[[], object] | None = None
    ) -> None:
        """``progress``, if given, is called after every send, delivered or not (liveness.py)."""
        self._settings = settings
        self._senders = senders
        self._progress = progress
        self._built: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Channel:
        """The channel called ``name`` ("default" means AUTOMATION_DEFAULT_CHANNEL)."""
        name = self.resolve(name)
        channel = self._built.get(name)
        if channel is None:
            with self._lock:
                channel = self._built.get(name) or self._built.setdefault(
                    name, self._reporting(self._build(name))
                )
        return channel

    def resolve(self, name: str) -> str:
        """The real channel name ("default" means AUTOMATION_DEFAULT_CHANNEL)."""
        return self._settings.default_channel if name == "default" else name

    def check(self) -> None:
        """Build the default channel now, so a misconfiguration stops the executor at start."""
        self.get("default")

    def _reporting(self, channel: Channel) -> Channel:
        return channel if self._progress is None else _Reporting(channel, self._progress)

    def _build(self, name: str) -> Channel:
        s = self._settings
        if name not in CHANNEL_NAMES:
            raise SettingsError(f"unknown channel {name!r}; known: {', '.join(sorted(CHANNEL_NAMES))}")
        missing = channel_needs(name, s, self._senders)
        if missing:
            raise SettingsError(f"the {name} channel needs {', '.join(missing)}")
        if name == "log":
            return LogChannel(s.outbox_file)
        if name == "null":
            return NullChannel()
        if name == "webhook":
            assert s.webhook_url is not None  # checked above
            return WebhookChannel(s.webhook_url.get_secret_value(), s.webhook_timeout_s)
        if name == "sms":
            return SmsChannel(
                s.sms_base_url, s.sms_account_sid, s.sms_auth_token, self._senders.sms_from, s.sms_timeout_s
            )
        return EmailChannel(
            s.smtp_host,
            s.smtp_port,
            self._senders.email_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            timeout_s=s.smtp_timeout_s,
        )


class _Reporting:
    """A channel that reports progress after each send (a finished job, even a failed one)."""

    def __init__(self, channel: Channel, progress: Callable[[], object]) -> None:
        self._channel, self._progress = channel, progress
        self.name = channel.name

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        try:
            return self._channel.send(message, job_id=job_id, idempotency_key=idempotency_key)
        finally:
            self._progress()

    def __getattr__(self, attr: str) -> Any:  # anything else (e.g. NullChannel's counters): the channel's
        return getattr(self._channel, attr)


def channel_needs(name: str, settings: Settings, senders: Senders) -> list[str]:
    """What channel ``name`` needs to send and does not have: setting names (and settings-file keys)."""
    s, missing = settings, []
    if name == "webhook" and not (s.webhook_url and s.webhook_url.get_secret_value()):
        missing.append("AUTOMATION_WEBHOOK_URL")
    elif name == "sms":
        if not s.sms_account_sid:
            missing.append("AUTOMATION_SMS_ACCOUNT_SID")
        if not s.sms_auth_token.get_secret_value():
            missing.append("AUTOMATION_SMS_AUTH_TOKEN")
        if not senders.sms_from:
            missing.append("senders.sms_from")
    elif name == "email":
        if not s.smtp_host:
            missing.append("AUTOMATION_SMTP_HOST")
        if s.smtp_username and not (s.smtp_password and s.smtp_password.get_secret_value()):
            missing.append("AUTOMATION_SMTP_PASSWORD")  # a login needs both halves
        if s.smtp_password and s.smtp_password.get_secret_value() and not s.smtp_username:
            missing.append("AUTOMATION_SMTP_USERNAME")
        if not senders.email_from:
            missing.append("senders.email_from")
    return missing


def channels_in_use(settings: Settings, automations: AutomationSettings) -> dict[str, list[str]]:
    """Channel name -> who uses it: AUTOMATION_DEFAULT_CHANNEL and ``<type>/<recipient>`` of every
    enabled recipient of an enabled type (disabled ones never send)."""
    users: dict[str, list[str]] = {settings.default_channel: [_DEFAULT]}
    for type_name, kind in automations.types.items():
        if not kind.enabled:
            continue
        for recipient, spec in kind.recipients.items():
            if spec.enabled:
                channel = settings.default_channel if spec.channel == "default" else spec.channel
                users.setdefault(channel, []).append(f"{type_name}/{recipient}")
    return users


def missing_settings(settings: Settings, automations: AutomationSettings) -> list[str]:
    """Everything the channels in use lack, one entry per channel: ``"AUTOMATION_SMS_ACCOUNT_SID,
    AUTOMATION_SMS_AUTH_TOKEN (sms channel, used by AUTOMATION_DEFAULT_CHANNEL and 9 recipients)"``.
    Owners' contacts (senders.owner_phone / owner_email) are needed where an owner recipient is served."""
    problems = []
    for channel, users in sorted(channels_in_use(settings, automations).items()):
        missing = channel_needs(channel, settings, automations.senders)
        owners = any(u.endswith("/owner") for u in users)
        if owners and channel == "sms" and not automations.senders.owner_phone:
            missing.append("senders.owner_phone")
        if owners and channel == "email" and not automations.senders.owner_email:
            missing.append("senders.owner_email")
        if missing:
            problems.append(f"{', '.join(missing)} ({channel} channel, used by {_who(users)})")
    return problems


def _who(users: list[str]) -> str:
    recipients = [u for u in users if u != _DEFAULT]
    named = [_DEFAULT] if _DEFAULT in users else []
    if recipients:
        named.append(recipients[0] if len(recipients) == 1 else f"{len(recipients)} recipients")
    return " and ".join(named)
