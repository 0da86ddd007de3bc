"""Entry point of the executor service: ``automation-executor`` / ``python -m executor_service``."""

from __future__ import annotations

import logging
import signal
import threading

from executor_service.app import build_loop
from shared.config import Settings
from shared.logs import configure_logging
from shared.metrics_server import MetricsServer

log = logging.getLogger("executor_service")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loop = build_loop(settings)
    metrics_server = MetricsServer(
        settings.listen_host, settings.executor_metrics_port, ready=lambda: loop.ready and not stop.is_set()
    )
    metrics_port = metrics_server.start()
    log.info("executor service consuming", extra={"topic": settings.jobs_topic, "metrics_port": metrics_port})
    loop.run(stop)
    metrics_server.stop()
    log.info("executor service stopped")


if __name__ == "__main__":
    main()
