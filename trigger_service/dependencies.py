"""The trigger's view of its dependencies, checked in the background (ARCHITECTURE.md, "Readiness").

Readiness (``/readyz``) says whether this process can serve calls; it does not follow Redis, Kafka or the
database, which every replica shares: one of them down would take every replica out of the Service at
once, and the calls that do not need it (runs and dead letters need only the database) would fail too,
with connection errors instead of a clear UNAVAILABLE. What is down is reported here instead:

- ``automation_dependency_up{dependency}`` (1/0), for dashboards and alerts;
- the gRPC health service: ``automation.dependency.<name>`` SERVING / NOT_SERVING (UNKNOWN before the
  first check);
- one log line per change (``dependency down`` / ``dependency up``).

Each dependency has its own thread that runs one cheap check every ``interval_s`` (Redis PING, a Kafka
metadata request for the jobs topic, ``SELECT 1``); probes and scrapes never cause a round trip. A check
that does not answer within ``timeout_s`` counts as down, and is not started again until it returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from grpc_health.v1 import health, health_pb2

from trigger_service import metrics

log = logging.getLogger(__name__)
HEALTH_PREFIX = "automation.dependency."
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def health_name(dependency: str) -> str:
    """The gRPC health service name that reports ``dependency``."""
    return HEALTH_PREFIX + dependency


class DependencyMonitor:
    """Runs ``checks`` (name -> callable that raises when the dependency is not usable) in the background."""

    def __init__(
        self,
        checks: Mapping[str, Callable[[], object]],
        *,
        interval_s: float,
        timeout_s: float,
        health_servicer: health.HealthServicer | None = None,
    ) -> None:
        self._checks = dict(checks)
        self._interval_s, self._timeout_s = interval_s, timeout_s
        self._health = health_servicer
        self._state: dict[str, bool | None] = dict.fromkeys(self._checks)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if health_servicer is not None:
            for name in self._checks:
                health_servicer.set(health_name(name), health_pb2.HealthCheckResponse.UNKNOWN)

    def up(self, name: str) -> bool | None:
        """The last verdict on ``name``: True, False, or None before its first check finished."""
        with self._lock:
            return self._state[name]

    def start(self) -> None:
        for name in self._checks:
            thread = threading.Thread(target=self._watch, args=(name,), name=f"check-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._timeout_s + 1.0)

    def _watch(self, name: str) -> None:
        # A check that hangs keeps this pool's one thread; it is not run again until it returns.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"check-{name}")
        running: Future | None = None
        try:
            while not self._stop.is_set():
                if running is None or running.done():
                    running = pool.submit(self._checks[name])
                try:
                    running.result(timeout=self._timeout_s)
                except FutureTimeout:
                    self._record(name, False, f"no answer within {self._timeout_s} s")
                except Exception as exc:  # noqa: BLE001 (any failure means: not usable now)
                    self._record(name, False, f"{type(exc).__name__}: {exc}")
                else:
                    self._record(name, True, "")
                self._stop.wait(self._interval_s)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _record(self, name: str, up: bool, reason: str) -> None:
        with self._lock:
            changed = self._state[name] is not up
            self._state[name] = up
        metrics.DEPENDENCY_UP.labels(dependency=name).set(1 if up else 0)
        if not changed:
            return
        if self._health is not None and not self._stop.is_set():
            self._health.set(health_name(name), SERVING if up else NOT_SERVING)
        if up:
            log.info("dependency up", extra={"dependency": name})
        else:
            log.warning("dependency down", extra={"dependency": name, "reason": reason[:300]})
