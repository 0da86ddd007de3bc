"""Types and consistency rules of the trigger's caller-authentication settings (``AUTOMATION_AUTH_*``,
``AUTOMATION_TLS_*``; README.md, "Security: callers"). Kept out of config.py, which only wires them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

AuthMode = Literal["none", "token", "mtls", "mtls+token"]
AuthScope = Literal["enqueue", "cancel", "read", "replay", "pause"]


class CallerToken(BaseModel):
    """One caller's bearer token, as the lowercase hex SHA-256 of the token (never the token), and the
    scopes it grants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_sha256: str = Field(pattern="^[0-9a-f]{64}$")
    scopes: frozenset[AuthScope] = Field(min_length=1)


class AuthSettings(Protocol):
    auth_mode: AuthMode
    tls_cert_file: Path | None
    tls_key_file: Path | None
    tls_client_ca_file: Path | None
    tls_allowed_client_sans: list[str]
    auth_tokens: dict[str, CallerToken]
    auth_tokens_file: Path | None


def check_auth_settings(s: AuthSettings) -> None:
    """Raise ValueError for a configuration that would not check what it claims to, or could not start."""
    mode = s.auth_mode
    mtls, token = mode.startswith("mtls"), mode.endswith("token")
    if (s.tls_cert_file is None) != (s.tls_key_file is None):
        raise ValueError("set both AUTOMATION_TLS_CERT_FILE and AUTOMATION_TLS_KEY_FILE, or neither")
    if mtls and (s.tls_cert_file is None or s.tls_client_ca_file is None):
        raise ValueError(
            f"AUTOMATION_AUTH_MODE={mode} needs AUTOMATION_TLS_CERT_FILE, AUTOMATION_TLS_KEY_FILE and "
            "AUTOMATION_TLS_CLIENT_CA_FILE"
        )
    if not mtls and (s.tls_client_ca_file is not None or s.tls_allowed_client_sans):
        raise ValueError(
            "AUTOMATION_TLS_CLIENT_CA_FILE / AUTOMATION_TLS_ALLOWED_CLIENT_SANS are checked only when "
            f"AUTOMATION_AUTH_MODE is mtls or mtls+token (it is {mode})"
        )
    if s.auth_tokens and s.auth_tokens_file is not None:
        raise ValueError("set AUTOMATION_AUTH_TOKENS or AUTOMATION_AUTH_TOKENS_FILE, not both")
    has_tokens = bool(s.auth_tokens) or s.auth_tokens_file is not None
    if token and not has_tokens:
        raise ValueError(
            f"AUTOMATION_AUTH_MODE={mode} needs callers in AUTOMATION_AUTH_TOKENS or "
            "AUTOMATION_AUTH_TOKENS_FILE"
        )
    if not token and has_tokens:
        raise ValueError(
            f"bearer tokens are configured but AUTOMATION_AUTH_MODE={mode} does not check them "
            "(use token or mtls+token)"
        )
