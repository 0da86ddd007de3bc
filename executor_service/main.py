"""Entry point of the executor service: ``automation-executor`` / ``python -m executor_service``.

SIGTERM (or Ctrl-C): readiness drops at once, fetching stops, the batch in hand is finished and made
durable, offsets are committed and the group is left. If that takes longer than ``drain_grace_s``
the process exits anyway (what was not committed is redelivered to another worker).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from executor_service.app import build_loop
from shared import failpoints
from shared.config import Settings
from shared.logs import configure_logging
from shared.metrics_server import MetricsServer

log = logging.getLogger("executor_service")
DRAIN_TIMEOUT_EXIT_CODE = 3


def main() -> None:
    settings = Settings.from_environment()
    configure_logging(settings.log_level)
    failpoints.arm(settings.failpoint)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loop = build_loop(settings)
    metrics_server = MetricsServer(
        settings.listen_host, settings.executor_metrics_port, ready=lambda: loop.ready and not stop.is_set()
    )
    metrics_port = metrics_server.start()
    log.info("executor service consuming", extra={"topic": settings.jobs_topic, "metrics_port": metrics_port})
    worker = threading.Thread(target=loop.run, args=(stop,), name="consume-loop")
    worker.start()
    while worker.is_alive() and not stop.wait(0.5):
        pass
    worker.join(timeout=settings.drain_grace_s)
    metrics_server.stop()
    if worker.is_alive():
        log.error(
            "drain did not finish within the grace period; exiting", extra={"grace_s": settings.drain_grace_s}
        )
        logging.shutdown()
        os._exit(DRAIN_TIMEOUT_EXIT_CODE)
    log.info("executor service stopped")
    if not stop.is_set():  # the loop ended on its own: a crash, not a shutdown
        sys.exit(1)


if __name__ == "__main__":
    main()
