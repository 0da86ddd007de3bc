"""Safe by default: an unauthenticated trigger serves only the machine it runs on.

With ``AUTOMATION_AUTH_MODE=none`` every caller that can open a connection may enqueue, cancel and
replay. That is what a developer's laptop wants (loopback) and what no shared network should get, so
the trigger refuses to start when it would bind such an API to an address other peers can reach,
unless ``AUTOMATION_INSECURE_ALLOW_UNAUTHENTICATED=true`` says so on purpose (then it logs a warning).
"""

from __future__ import annotations

import ipaddress
import logging

from shared.config import Settings

log = logging.getLogger(__name__)


class InsecureExposureError(ValueError):
    """The gRPC API would be served without authentication on a non-loopback address."""


def is_loopback(host: str) -> bool:
    """True for ``localhost``, any 127.0.0.0/8 address and ``::1`` (bracketed or not); False for every
    other name or address, including the wildcards ``0.0.0.0`` and ``::``."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name: it may resolve to anything


def grpc_address(host: str, port: int) -> str:
    """``host:port`` for gRPC, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def check_exposure(settings: Settings, host: str) -> None:
    """Raise InsecureExposureError when binding ``host`` with ``settings`` serves an open API to the
    network; log a warning when that was explicitly allowed."""
    if settings.auth_mode != "none" or is_loopback(host):
        return
    if not settings.insecure_allow_unauthenticated:
        raise InsecureExposureError(
            f"refusing to serve the gRPC API without authentication on {host!r}: "
            "AUTOMATION_AUTH_MODE=none is only for a loopback AUTOMATION_LISTEN_HOST "
            "(127.0.0.1, ::1, localhost); set AUTOMATION_AUTH_MODE to token, mtls or mtls+token, "
            "or AUTOMATION_INSECURE_ALLOW_UNAUTHENTICATED=true to accept anyone who can connect"
        )
    log.warning(
        "INSECURE: the gRPC API is served WITHOUT AUTHENTICATION on a non-loopback address; anyone who "
        "can connect may enqueue, cancel and replay (AUTOMATION_INSECURE_ALLOW_UNAUTHENTICATED=true)",
        extra={"listen_host": host, "auth_mode": settings.auth_mode},
    )
