"""E-mail addresses: the one definition of what is accepted (trigger validation, the settings file) and
what is sent to (the e-mail channel's envelope and ``To:``), so the two cannot disagree.

An address is a bare RFC 5321 addr-spec ``local@domain`` and nothing else: no display name, angle
brackets, comments, quoted local parts, whitespace or controls, and no address literals (``[1.2.3.4]``).

- Local part: a dot-atom, ASCII, at most 64 characters, of letters, digits and ``# $ & ' * + / ^ _ ` { | }
  ~ -``. Left out of RFC 5322's atext on purpose: ``%`` (``user%host@relay`` source routing, and the
  ``%0d%0a`` of percent-encoded controls), ``!`` (bang paths), ``=`` and ``?`` (the syntax of RFC 2047
  encoded words, which some mail software decodes even inside addresses). Non-ASCII local parts are
  refused: they need SMTPUTF8 end to end, which we do not require of the relay.
- Domain: a host name of at least two labels (letters, digits, inner hyphens; 1-63 each, at most 253 in
  all), the last one not all digits. International domain names are accepted and converted to their
  IDNA 2008 A-label form (``bücher.example`` -> ``xn--bcher-kva.example``, UTS #46 mapping, so case and
  full-width forms fold); that ASCII form is what :func:`email_address` returns and what the SMTP envelope
  and the ``To:`` header carry. An ASCII domain is kept exactly as written.

Error descriptions never echo the value (an address is personal data).
"""

from __future__ import annotations

import re

import idna

MAX_EMAIL_LEN = 254  # RFC 5321 path limit minus the angle brackets
MAX_LOCAL_PART_LEN = 64
MAX_DOMAIN_LEN = 253
MAX_DISPLAY_NAME_LEN = 100
EMAIL_EXPECTED = "a bare e-mail address such as name@example.com"

_ATOM = r"[A-Za-z0-9#$&'*+/^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")
# Name <addr> (the settings file's sender): the name may not hold what would end or nest the mailbox.
_MAILBOX = re.compile(r"(?P<name>[^<>\"\\]*?)[ \t]*<(?P<addr>[^<>]*)>")
# Cc controls (C0, DEL, C1: CR, LF, VT, FF, NEL, ...), U+2028/U+2029 (line/paragraph separators) and
# Unicode's Bidi_Control characters: the marks ALM, LRM, RLM (U+061C, U+200E, U+200F), the embeddings and
# overrides (U+202A-U+202E) and the isolates (U+2066-U+2069). One C-speed scan; the trigger's validation
# refuses the same characters in every booking text field.
UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class InvalidAddress(ValueError):
    """``str(exc)`` says what is wrong without quoting the address."""


def email_address(value: str) -> str:
    """The address ``value`` in the form the envelope uses (ASCII; an IDN domain as A-labels), or raise
    :class:`InvalidAddress`. Only :func:`email_address` decides whether something is an address."""
    if not value:
        raise InvalidAddress("is empty")
    if len(value) > MAX_EMAIL_LEN:
        raise InvalidAddress(f"must be at most {MAX_EMAIL_LEN} characters")
    local, at, domain = value.rpartition("@")
    if not at or not local:
        raise InvalidAddress(f"must be {EMAIL_EXPECTED}")
    if len(local) > MAX_LOCAL_PART_LEN:
        raise InvalidAddress(f"the part before '@' must be at most {MAX_LOCAL_PART_LEN} characters")
    if not _LOCAL_PART.fullmatch(local):
        raise InvalidAddress(
            f"must be {EMAIL_EXPECTED}: the part before '@' may hold ASCII letters, digits, dots (not "
            "first, last or doubled) and # $ & ' * + / ^ _ ` { | } ~ - only"
        )
    host = _ascii_domain(domain)
    if len(host) > MAX_DOMAIN_LEN or len(local) + 1 + len(host) > MAX_EMAIL_LEN:
        raise InvalidAddress(f"must be at most {MAX_EMAIL_LEN} characters with its domain in ASCII form")
    if not _HOST.fullmatch(host) or host.rpartition(".")[2].isdigit():
        raise InvalidAddress(
            f"must be {EMAIL_EXPECTED}: the domain must be a host name of two or more labels "
            "(letters, digits and inner hyphens)"
        )
    return f"{local}@{host}"


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise InvalidAddress(
            f"must be {EMAIL_EXPECTED}: the domain is not a valid internationalised domain name"
        ) from exc


def email_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an e-mail address, or None if :func:`email_address` accepts it."""
    try:
        email_address(value)
    except InvalidAddress as exc:
        return str(exc)
    return None


def mailbox(value: str) -> tuple[str, str]:
    """``(display name, address)`` of a sender written ``name@example.com`` or ``Name <name@example.com>``
    (the address as :func:`email_address` returns it); raise :class:`InvalidAddress` otherwise."""
    if UNSAFE_TEXT.search(value):
        raise InvalidAddress("must not contain control, line-separator or bidi characters")
    match = _MAILBOX.fullmatch(value.strip(" \t"))
    name, addr = (match["name"].strip(" \t"), match["addr"]) if match else ("", value.strip(" \t"))
    if len(name) > MAX_DISPLAY_NAME_LEN:
        raise InvalidAddress(f"the name must be at most {MAX_DISPLAY_NAME_LEN} characters")
    return name, email_address(addr)
