"""How a client proves itself to the trigger: a bearer token, TLS (checking the trigger's certificate
against a CA), and a client certificate for mTLS. Used by ``AutomationClient`` and ``automationctl``.

The token is kept out of ``repr`` and never put in an error message; files are read once, when the
credentials are made (a missing or unreadable file is a ``ValueError`` naming the path, not its content).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc


@dataclass(frozen=True)
class ClientCredentials:
    """What to present. ``tls`` is implied by a CA, a client certificate or a server name; without a CA
    the trigger's certificate is checked against the system's roots. ``server_name`` overrides the name
    checked in the trigger's certificate (when the target is an IP address or another name)."""

    token: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_pem: bytes | None = field(default=None, repr=False)
    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    server_name: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise ValueError("the bearer token is empty or contains whitespace")
        if (self.cert_pem is None) != (self.key_pem is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    @classmethod
    def from_files(
        cls,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        tls: bool = False,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        server_name: str | None = None,
    ) -> ClientCredentials:
        """From a token (or a file holding it; surrounding whitespace is dropped) and PEM files."""
        if token is not None and token_file is not None:
            raise ValueError("give a token or a token file, not both")
        if token_file is not None:
            token = _read(token_file, "token file").decode().strip()
            if not token:
                raise ValueError(f"token file {token_file} is empty")
        return cls(
            token=token,
            tls=tls or any(v is not None for v in (ca_file, cert_file, key_file, server_name)),
            ca_pem=_read(ca_file, "CA file") if ca_file is not None else None,
            cert_pem=_read(cert_file, "client certificate file") if cert_file is not None else None,
            key_pem=_read(key_file, "client key file") if key_file is not None else None,
            server_name=server_name,
        )

    @property
    def uses_tls(self) -> bool:
        return self.tls or any(v is not None for v in (self.ca_pem, self.cert_pem, self.server_name))

    def channel(self, target: str, options: list[tuple[str, object]] | None = None) -> grpc.Channel:
        """A channel to ``target``: TLS when asked for, else plaintext. No I/O until the first call."""
        options = list(options or [])
        if not self.uses_tls:
            return grpc.insecure_channel(target, options=options)
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        credentials = grpc.ssl_channel_credentials(self.ca_pem, self.key_pem, self.cert_pem)
        return grpc.secure_channel(target, credentials, options=options)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata: ``authorization: Bearer <token>``, or nothing."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
