"""A wake-up call from the trigger to idle executors, over Redis pub/sub.

An executor that got no message for ``IDLE_AFTER_S`` parks its jobs partitions (executor_service/
parking.py): an idle broker is then asked for them a few times a second, not every ``fetch.wait.max.ms``,
and the first job after a quiet spell would wait for the end of a park (up to ``2 * IDLE_JOBS_PARK_S``).
The trigger rings once the broker has acknowledged a job (:class:`Doorbell`, at most every
``WAKE_RING_INTERVAL_S``); an executor hearing it (:class:`DoorbellListener`) resumes its parked jobs
partitions on its next loop turn, and parks none again for ``IDLE_AFTER_S`` (so a job the trigger did not
ring for, within the interval, finds every executor awake).

Only latency rides on it. The message carries nothing (no booking data), and a ring lost (Redis down,
no executor listening, a listener reconnecting) leaves the parks to end on their own, as without it.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from shared.constants import WAKE_CHANNEL_PREFIX, WAKE_RING_INTERVAL_S

log = logging.getLogger(__name__)

_RECONNECT_S = 1.0  # the listener's pause after a failed subscription or read
_LISTEN_POLL_S = 0.5  # how often the listener looks at its stop event


def wake_channel(jobs_topic: str) -> str:
    """The pub/sub channel of the executors consuming ``jobs_topic``."""
    return WAKE_CHANNEL_PREFIX + jobs_topic


class Doorbell:
    """The trigger's side: :meth:`ring` publishes an empty message, at most every ``interval_s``."""

    def __init__(
        self, client: redis.Redis, channel: str, *, interval_s: float = WAKE_RING_INTERVAL_S
    ) -> None:
        self._client = client
        self._channel = channel
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last_ring = -float("inf")

    def ring(self) -> None:
        """Wake idle executors (never raises: a ring that fails is a ring lost)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_ring < self._interval_s:
                return
            self._last_ring = now
        try:
            self._client.publish(self._channel, b"")
        except redis.RedisError as exc:
            log.debug("wake-up call not sent", extra={"error": type(exc).__name__})


class DoorbellListener:
    """The executor's side: a daemon thread that sets ``wake`` on each ring (started by :meth:`start`)."""

    def __init__(self, client: redis.Redis, channel: str, wake: threading.Event) -> None:
        self._client = client
        self._channel = channel
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listening (once; the consume loop's thread calls it every turn)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wake-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * _LISTEN_POLL_S + 1.0)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                if failing:
                    log.info("listening for wake-up calls again")
                    failing = False
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=_LISTEN_POLL_S) is not None:
                        self._wake.set()
            except (redis.RedisError, OSError) as exc:
                if not failing:  # one line per failure streak; parks end on their own meanwhile
                    log.warning(
                        "not listening for wake-up calls; idle parks end on their own",
                        extra={"error": type(exc).__name__},
                    )
                    failing = True
                self._stop.wait(_RECONNECT_S)
            finally:
                pubsub.close()
