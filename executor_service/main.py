"""Entry point of the executor service: ``automation-executor`` / ``python -m executor_service``.

Start-up, in order (ARCHITECTURE.md, "Liveness, readiness, start-up checks"):

1. settings and the channels in use are checked (startup.py): a missing credential or identifier ends
   the process with exit code 2 and one line naming every missing setting;
2. ``/metrics``, ``/healthz`` and ``/readyz`` are served; readiness is false until the loop consumes;
3. the database schema is waited for (shared/db/schema.py): while it is missing or older than the code's
   head, nothing is consumed and a line every ~10 s names both revisions; it goes on once
   ``automation-migrate`` ran;
4. the consume loop runs. ``/healthz`` fails once it made no progress for AUTOMATION_LIVENESS_STALL_S
   (liveness.py), so a stuck loop is restarted.

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
from executor_service.consumer_loop import ConsumeLoop
from executor_service.liveness import Liveness
from executor_service.startup import SERVICE, automations_or_exit, warn_about_settings
from shared import failpoints
from shared.db.engine import make_engine
from shared.db.schema import wait_for_schema
from shared.errors import SettingsError
from shared.heap import freeze_startup_heap
from shared.logs import configure_logging
from shared.metrics_server import MetricsServer
from shared.startup import exit_config_error, settings_or_exit

log = logging.getLogger("executor_service")
DRAIN_TIMEOUT_EXIT_CODE = 3


def main() -> None:
    settings = settings_or_exit(SERVICE)
    configure_logging(settings.log_level)
    failpoints.arm(settings.failpoint)
    warn_about_settings(settings, automations_or_exit(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    liveness = Liveness(settings.liveness_stall_s)
    consuming: list[ConsumeLoop] = []
    metrics_server = MetricsServer(
        settings.metrics_listen_host,
        settings.executor_metrics_port,
        ready=lambda: bool(consuming) and consuming[0].ready and not stop.is_set(),
        live=liveness.alive,
    )
    metrics_port = metrics_server.start()
    engine = make_engine(settings.sqlalchemy_url)
    schema = wait_for_schema(engine, stop, progress=liveness.beat)
    engine.dispose()
    if schema is None:
        metrics_server.stop()
        log.info("executor service stopped before consuming")
        return
    try:
        loop = build_loop(settings, progress=liveness.beat)
    except SettingsError as exc:
        exit_config_error(SERVICE, " ".join(str(exc).split()))
    consuming.append(loop)
    freeze_startup_heap()
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
