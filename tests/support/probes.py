"""HTTP probes of a service's /healthz and /readyz, as the kubelet sees them."""

from __future__ import annotations

import time
import urllib.error
import urllib.request


def status(base_url: str, path: str) -> int:
    """The HTTP status of GET ``base_url + path``; 0 when nothing answers (not listening yet)."""
    try:
        with urllib.request.urlopen(f"{base_url}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def sample(base_url: str, seconds: float, every_s: float = 0.1) -> list[tuple[int, int]]:
    """``(healthz, readyz)`` statuses every ``every_s`` for ``seconds``."""
    seen, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append((status(base_url, "/healthz"), status(base_url, "/readyz")))
        time.sleep(every_s)
    return seen
