"""Entry point of the trigger service: ``automation-trigger`` / ``python -m trigger_service``."""

from __future__ import annotations

import logging
import signal
import threading

from shared.config import Settings
from shared.logs import configure_logging
from shared.metrics_server import MetricsServer
from trigger_service import metrics
from trigger_service.server import create_server

log = logging.getLogger("trigger_service")


def main() -> None:
    settings = Settings.from_environment()
    configure_logging(settings.log_level)
    trigger = create_server(settings)
    serving = threading.Event()
    metrics_server = MetricsServer(settings.listen_host, settings.trigger_metrics_port, ready=serving.is_set)
    metrics_port = metrics_server.start()
    trigger.start()
    serving.set()
    metrics.READY.set(1)
    log.info("trigger service listening", extra={"grpc_port": trigger.port, "metrics_port": metrics_port})

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serving.clear()
    metrics.READY.set(0)
    log.info("shutting down", extra={"grace_s": settings.shutdown_grace_s})
    trigger.stop(settings.shutdown_grace_s)
    metrics_server.stop()
    log.info("trigger service stopped")


if __name__ == "__main__":
    main()
