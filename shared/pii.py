"""Masking of contact details for logs: enough to tell two numbers apart, not enough to call one.

``mask_phone`` / ``mask_email`` mask one known value; ``redact_phones`` masks phone-like runs of digits
(a provider's error text); ``redact_text`` finds and masks every phone-like and
e-mail-like substring of free text (and the password of ``scheme://user:password@host`` URLs), and
``redact_value`` does it inside nested data (log ``extra`` fields). The phone rules favour masking but
leave ids, ISO timestamps, UUIDs, hex ids, IP addresses and epoch seconds/milliseconds alone:

- ``+`` and 7+ digits, with up to two of `` .-()`` between digits: ``+14155550123``, ``+1 (415) 555-0123``
  (numbers that follow it, separated only by those, are masked with it: no tail is left unmasked);
- digit groups with separators ending in a group of 4, 7+ digits: ``(415) 555-0123``, ``020 7183 8750``
  (not ``dd-mm-yyyy`` dates);
- a bare run of 10-15 digits, except 10 or 13 digits starting with ``1`` (epoch seconds / milliseconds,
  which no phone number without its ``+`` looks like).

A run glued to letters, digits or ``_ . / - +`` on the left, or to letters/digits on the right, is part of
some id and is left alone.
"""

from __future__ import annotations

import re
from typing import Any

_URL_CREDENTIALS = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*):(?P<password>[^\s/]+)@")
# Bounded repetitions everywhere: hostile text (huge runs of word characters) stays linear. The local
# part leaves out the rare legal characters that glue to log syntax (quotes, '=', '/', braces).
_EMAIL = re.compile(r"[\w.!#$%&+?^~-]{1,64}@(?:[\w-]{1,63}\.){1,10}[\w-]{2,63}")
_LEFT = r"(?<![\w+./-])"
_RIGHT = r"(?!\w|[./-]\w)"
_PHONE = re.compile(
    r"(?P<intl>(?<![+\d])\+\d(?:[ .()-]{0,2}\d){6,40}(?!\d))"
    rf"|(?P<national>{_LEFT}(?:\(\d{{2,4}}\)|\d{{2,4}})"
    rf"(?:[ .-]{{1,2}}\d{{2,4}}){{0,10}}[ .-]{{1,2}}\d{{4}}{_RIGHT})"
    rf"|(?P<bare>{_LEFT}\d{{10,15}}{_RIGHT})"
)
# redact_phones (a provider's error text): an optional '+', then 7+ digits, each pair split by at most two
# of ' ().-'.
_PHONE_RUN = re.compile(r"\+?\d(?:[\s().-]{0,2}\d){6,}")
_DATE = re.compile(r"\d{1,2}([./-])\d{1,2}\1\d{4}")
_MAX_DEPTH = 10


def mask_phone(phone: str) -> str:
    """'+14155550123' -> '+1********23'."""
    if len(phone) < 6:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]


def mask_email(email: str) -> str:
    """'ana.smith@example.com' -> 'a***@example.com'."""
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def _mask_phone_match(match: re.Match[str]) -> str:
    text = match.group()
    digits = "".join(c for c in text if c.isdigit())
    if match.lastgroup == "national" and (len(digits) < 7 or _DATE.fullmatch(text)):
        return text
    if match.lastgroup == "bare" and len(digits) in (10, 13) and digits.startswith("1"):
        return text  # epoch seconds or milliseconds
    return mask_phone(("+" if text.startswith("+") else "") + digits)


def redact_phones(text: str) -> str:
    """Mask every phone-number-like run of digits in ``text`` (error codes of 5-6 digits stay)."""
    return _PHONE_RUN.sub(lambda m: mask_phone(re.sub(r"[^\d+]", "", m.group())), text)


def redact_text(text: str) -> str:
    """``text`` with URL passwords replaced by ``***``, e-mail addresses masked like :func:`mask_email`
    and phone-like numbers like :func:`mask_phone`. Idempotent: redacting twice changes nothing more."""
    if "://" in text:
        text = _URL_CREDENTIALS.sub(r"\g<head>:***@", text)
    if "@" in text:
        text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    return _PHONE.sub(_mask_phone_match, text)


def redact_value(value: Any, _depth: int = 0) -> Any:
    """``value`` with every string inside it (dict keys and values, list/tuple/set items) redacted.

    Numbers, booleans and None are kept; anything else becomes its redacted ``str()``, as the JSON log
    formatter would have printed it."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if _depth < _MAX_DEPTH:
        if isinstance(value, dict):
            return {redact_value(k, _depth + 1): redact_value(v, _depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [redact_value(v, _depth + 1) for v in value]
    return redact_text(str(value))
