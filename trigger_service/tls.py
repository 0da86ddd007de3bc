"""The trigger's TLS server credentials, re-read when the certificate files change.

gRPC asks ``_CertificateFiles.fetch`` at the start of every new client connection; it answers a new
configuration only when one of the files changed on disk (a renewed certificate, a rotated client CA
bundle in a mounted Secret), so renewals apply to new connections without a restart. A changed set
that does not load (a key that does not match its certificate, a half-written file) is logged and
the previous one stays in use.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from pathlib import Path

import grpc

from shared.config import Settings

log = logging.getLogger(__name__)


class TlsConfigError(ValueError):
    """The certificate, key or client CA files cannot be used (raised at start, before serving)."""


class _CertificateFiles:
    """The server certificate chain, its key and (mTLS) the client CA bundle, as files."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None) -> None:
        self._cert, self._key, self._client_ca = cert, key, client_ca
        self._lock = threading.Lock()
        self._loaded = self._signature()

    def _paths(self) -> list[Path]:
        return [self._cert, self._key] + ([self._client_ca] if self._client_ca else [])

    def _signature(self) -> tuple[tuple[int, int, int], ...]:
        stats = [os.stat(path) for path in self._paths()]  # follows the symlinks of a mounted Secret
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)

    def load(self) -> grpc.ServerCertificateConfiguration:
        """Read and check the files (the key must match the certificate; PEM must parse)."""
        check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            check.load_cert_chain(self._cert, self._key)
            if self._client_ca is not None:
                check.load_verify_locations(self._client_ca)
            cert, key = self._cert.read_bytes(), self._key.read_bytes()
            client_ca = self._client_ca.read_bytes() if self._client_ca else None
        except (OSError, ssl.SSLError) as exc:
            names = ", ".join(str(path) for path in self._paths())
            raise TlsConfigError(f"TLS files ({names}) cannot be used: {exc}") from exc
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=client_ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration if a file changed since the last load, else None (keep the current one)."""
        with self._lock:
            try:
                signature = self._signature()
                if signature == self._loaded:
                    return None
                config = self.load()
            except (OSError, TlsConfigError) as exc:
                log.error("TLS files changed but cannot be loaded; keeping the previous ones: %s", exc)
                return None
            self._loaded = signature
            log.info("TLS files reloaded", extra={"tls_cert_file": str(self._cert)})
            return config


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when ``tls_cert_file`` is set (else None: plaintext). The mtls modes require a
    client certificate signed by ``tls_client_ca_file``; a missing, foreign or expired one fails the
    TLS handshake, before any call is read."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    require_client_cert = settings.auth_mode.startswith("mtls")
    try:
        files = _CertificateFiles(
            settings.tls_cert_file,
            settings.tls_key_file,
            settings.tls_client_ca_file if require_client_cert else None,
        )
    except OSError as exc:
        raise TlsConfigError(f"TLS file {exc.filename}: {exc.strerror}") from exc
    return grpc.dynamic_ssl_server_credentials(
        files.load(),
        # grpc's contract: the fetcher returns None for "no change"; types-grpcio's stub omits None
        files.fetch,  # type: ignore[arg-type]
        require_client_authentication=require_client_cert,
    )
