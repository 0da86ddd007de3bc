"""What the executor checks before it consumes: the automation settings file, the Kafka credentials the
chosen security needs, and that every channel in use has what it needs to send
(channel_registry.missing_settings); a failure ends the process with
exit code 2 and one line naming every missing setting (shared/startup.py). The wait for the database
schema comes next (shared/db/schema.py, in main.py)."""

from __future__ import annotations

import logging

from executor_service.channel_registry import channels_in_use, missing_settings
from shared.automation_settings import AutomationSettings, load_automation_settings
from shared.config import Settings
from shared.errors import SettingsError
from shared.startup import exit_config_error, missing_backend_settings

log = logging.getLogger(__name__)
SERVICE = "executor service"


def automations_or_exit(settings: Settings) -> AutomationSettings:
    """The automation settings, after checking the channels in use; exit 2 with one line otherwise."""
    try:
        automations = load_automation_settings(settings.automations_file)
    except SettingsError as exc:
        exit_config_error(SERVICE, " ".join(str(exc).split()))
    problems = missing_backend_settings(settings) + missing_settings(settings, automations)
    if problems:
        exit_config_error(SERVICE, "missing settings: " + "; ".join(problems))
    return automations


def slow_channels(settings: Settings, automations: AutomationSettings) -> dict[str, float]:
    """Channels in use whose timeout is not below the liveness stall time: one send can outlast it."""
    timeouts = {
        "webhook": settings.webhook_timeout_s,
        "sms": settings.sms_timeout_s,
        "email": settings.smtp_timeout_s,
    }
    return {
        name: timeouts[name]
        for name in channels_in_use(settings, automations)
        if name in timeouts and timeouts[name] >= settings.liveness_stall_s
    }


def sitters_by_email(settings: Settings, automations: AutomationSettings) -> list[str]:
    """``<type>/sitter`` recipients sent by e-mail: the API has no e-mail address for a sitter, so every
    such job would end dead-lettered as ``no_recipient``."""
    return [
        user for user in channels_in_use(settings, automations).get("email", []) if user.endswith("/sitter")
    ]


def warn_about_settings(settings: Settings, automations: AutomationSettings) -> None:
    """Settings that let the executor start but will fail some sends: one warning each."""
    slow = slow_channels(settings, automations)
    if slow:
        log.warning(
            "a channel timeout is not below AUTOMATION_LIVENESS_STALL_S: sends that slow make /healthz fail",
            extra={"channel_timeouts_s": slow, "liveness_stall_s": settings.liveness_stall_s},
        )
    sitters = sitters_by_email(settings, automations)
    if sitters:
        log.warning(
            "sitters have no e-mail address in the API: these recipients' jobs will be dead-lettered "
            "(no_recipient); route them to sms or webhook in the automation settings",
            extra={"recipients": sitters},
        )
