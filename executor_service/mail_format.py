"""The bytes of an e-mail, with a header block this module writes itself.

Why not ``EmailMessage`` headers: the e-mail package parses every header value it is given and refolds
it on output, decoding RFC 2047 encoded words on the way. On Python 3.11.7 (CVE-2024-6923) a value such
as ``=?utf-8?q?Bo=0D=0AX-Injected:_yes?=`` then comes out as two header lines; from 3.11.10 the same value
raises ``HeaderWriteError``. Neither may depend on what a booking says.

So, by construction: every header value that carries booking or settings text (Subject, the sender's
display name, and the ids when they are not plain tokens) is written as RFC 2047 ``B`` encoded words of
its UTF-8 bytes, i.e. only ``[A-Za-z0-9+/=?]`` and the fixed ``=?utf-8?b?``; the addresses are the ASCII
addr-specs :func:`shared.contacts.email_address` returned, whose alphabet has no space, ``<``, ``>``,
``,``, ``;``, ``:``, ``"``, ``=``, ``?`` or control; the other values are fixed formats (date, Message-ID).
No value can end a header line, start another, or add a recipient, on any Python version. The library
is used for the body part only (its Content-Type and transfer encoding), which holds no header of ours.
"""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.policy import SMTP

from shared.templates import single_line

CRLF = "\r\n"
MAX_LINE_CHARS = 78  # RFC 5322's recommended limit (998 is the hard one)
# 39 UTF-8 bytes -> 52 base64 characters -> a 64-character word: "Subject: " + one word fits a line.
_WORD_BYTES = 39
_TOKEN = re.compile(r"[\x21-\x7e]{1,200}")
_BODY_POLICY = SMTP.clone(cte_type="7bit")  # non-ASCII bodies: quoted-printable/base64, never raw 8bit


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 ``B`` encoded words of UTF-8, each at most 64 characters and never splitting
    a character (readers join adjacent encoded words without the space between them); none for ``""``."""
    words, chunk = [], b""
    for char in text:
        data = char.encode("utf-8", "surrogatepass")
        if chunk and len(chunk) + len(data) > _WORD_BYTES:
            words.append(_word(chunk))
            chunk = b""
        chunk += data
    if chunk:
        words.append(_word(chunk))
    return words


def _word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def is_token(value: str) -> bool:
    """True if ``value`` may be written into a header as it is: 1-200 printable ASCII characters without
    ``=`` or ``?`` (so it cannot be, or hold, an encoded word) and no space."""
    return bool(_TOKEN.fullmatch(value)) and "=" not in value and "?" not in value


def text_value(text: str) -> list[str]:
    """The header tokens of a free-text value: encoded words of its one-line form."""
    return encoded_words(single_line(text))


def token_value(value: str) -> list[str]:
    """A token as it is (ids, keys), anything else as encoded words."""
    return [value] if is_token(value) else encoded_words(single_line(value))


def header(name: str, tokens: list[str]) -> str:
    """``Name: tok tok`` folded (CRLF + space) before a token that would pass MAX_LINE_CHARS; ends in CRLF.
    Tokens hold no whitespace, so folding adds nothing to and removes nothing from the value."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE_CHARS and line != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {token}"
    lines.append(line)
    return CRLF.join(lines) + CRLF


def mailbox_tokens(display_name: str, address: str) -> list[str]:
    """``=?utf-8?b?...?= <address>`` or the bare address (already an ASCII addr-spec)."""
    return [*text_value(display_name), f"<{address}>"] if display_name else [address]


def body_part(body: str) -> bytes:
    """MIME-Version, Content-Type, Content-Transfer-Encoding, the blank line and the encoded body (CRLF)."""
    part = EmailMessage(policy=_BODY_POLICY)
    part.set_content(body)
    if "MIME-Version" not in part:
        part["MIME-Version"] = "1.0"
    return part.as_bytes()


def message_bytes(headers: list[str], body: str) -> bytes:
    """The whole message: ``headers`` (each from :func:`header`) and then :func:`body_part`."""
    return "".join(headers).encode("ascii") + body_part(body)
