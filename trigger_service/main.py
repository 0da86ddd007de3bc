"""Entry point of the trigger service: ``automation-trigger`` / ``python -m trigger_service``.

A configuration that cannot start (an unauthenticated API on a non-loopback address, bad token or TLS
files, a bad automation settings file) ends the process with exit code 2 and one error line naming the
settings to fix, before anything is bound.

Enqueueing needs no database, so the trigger serves (and is ready) before the EventLog schema exists;
until ``automation-migrate`` ran, a line every ~10 s names the database's and the needed revision and
the operator RPCs answer UNAVAILABLE "schema not migrated" (shared/db/schema.py, operations.py).
"""

from __future__ import annotations

import logging
import signal
import threading

from shared.db.engine import make_engine
from shared.db.schema import watch_schema
from shared.errors import SettingsError
from shared.heap import freeze_startup_heap
from shared.logs import configure_logging
from shared.metrics_server import MetricsServer
from shared.startup import exit_config_error, missing_backend_settings, settings_or_exit
from trigger_service import metrics
from trigger_service.exposure import InsecureExposureError
from trigger_service.server import ListenError, create_server
from trigger_service.tls import TlsConfigError
from trigger_service.tokens import TokenConfigError

log = logging.getLogger("trigger_service")
_START_ERRORS = (InsecureExposureError, TokenConfigError, TlsConfigError, SettingsError, ListenError)


def main() -> None:
    settings = settings_or_exit("trigger service")  # invalid settings: one line, exit 2
    configure_logging(settings.log_level)
    if missing := missing_backend_settings(settings):
        exit_config_error("trigger service", "missing settings: " + "; ".join(missing))
    try:
        trigger = create_server(settings)
    except _START_ERRORS as exc:
        exit_config_error("trigger service", str(exc))
    serving = threading.Event()
    metrics_server = MetricsServer(
        settings.metrics_listen_host, settings.trigger_metrics_port, ready=serving.is_set
    )
    metrics_port = metrics_server.start()
    trigger.start()
    freeze_startup_heap()  # full collections under load no longer traverse it (shared/heap.py)
    serving.set()
    metrics.READY.set(1)
    log.info("trigger service listening", extra={"grpc_port": trigger.port, "metrics_port": metrics_port})

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    watch_schema(make_engine(settings.sqlalchemy_url), stop)
    stop.wait()
    serving.clear()
    metrics.READY.set(0)
    log.info("shutting down", extra={"grace_s": settings.shutdown_grace_s})
    trigger.stop(settings.shutdown_grace_s)
    metrics_server.stop()
    log.info("trigger service stopped")


if __name__ == "__main__":
    main()
