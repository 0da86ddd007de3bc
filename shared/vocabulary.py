"""The pipeline's vocabulary: channel names and the formats of ids, idempotency keys and phone numbers.

One definition each, used by the trigger's validation, the client, the settings file reader and the
executor. E-mail addresses have their own module (``shared/contacts.py``); enum names are in
``shared/names.py``.
"""

from __future__ import annotations

import re

from shared.constants import MAX_ID_LEN, MAX_IDEMPOTENCY_KEY_LEN
from shared.names import AUTOMATION_TYPE_NAMES, RECIPIENT_NAMES
from shared.proto.automation.v1 import automation_pb2 as pb

# Channels a message can go out on (AUTOMATION_DEFAULT_CHANNEL, automations.toml, pauses, metrics).
CHANNEL_NAMES = frozenset({"log", "webhook", "sms", "email", "null"})
# automations.toml may also say "default": the channel AUTOMATION_DEFAULT_CHANNEL names.
DEFAULT_CHANNEL = "default"
RATE_LIMITED_CHANNELS = ("email", "sms", "webhook")  # [rate_limits] keys in automations.toml

# Booking, job and sitter ids. The patterns bound the length: a match never scans past it.
ID_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_LEN}}}")
ID_EXPECTED = f"1-{MAX_ID_LEN} characters from A-Z, a-z, 0-9, '_' and '-'"

# Idempotency keys: printable ASCII without spaces (they travel in Kafka headers and HTTP headers).
IDEMPOTENCY_KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY_LEN}}}")
IDEMPOTENCY_KEY_EXPECTED = f"1-{MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters without spaces"

# Phone numbers: E.164, ASCII digits only (\d would accept any Unicode digit).
PHONE_PATTERN = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_PHONE_LEN = 16  # "+" and at most 15 digits
PHONE_EXPECTED = "an E.164 phone number such as +14155550123"


def is_idempotency_key(key: str) -> bool:
    return IDEMPOTENCY_KEY_PATTERN.fullmatch(key) is not None


def is_phone(value: str) -> bool:
    return PHONE_PATTERN.fullmatch(value) is not None


def default_idempotency_key(req: pb.EnqueueAutomationRequest) -> str:
    """``<type>:<recipient>:<booking id>:<booking version>``, e.g. ``bookingConfirmation:client:b1:3``: the
    key the trigger uses for a request without one, and the one the client sets before its first attempt."""
    type_name = AUTOMATION_TYPE_NAMES.get(req.automation_type, str(req.automation_type))
    recipient = RECIPIENT_NAMES.get(req.recipient, str(req.recipient))
    return f"{type_name}:{recipient}:{req.booking.id}:{req.booking.version}"
