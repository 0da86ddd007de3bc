"""The backends one benchmark run uses: a Kafka broker, Redis and (optionally) a PostgreSQL server.

Each comes from an environment variable when set; otherwise the broker is an embedded Tansu and Redis
is the default URL or, if nothing answers there, an embedded valkey. PostgreSQL has no embedded
fallback: without it the PostgreSQL scenarios are skipped with a message.
"""

from __future__ import annotations

import functools
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devtools.embedded import EmbeddedProcess, redis_answers, start_tansu, start_valkey
from shared.constants import DELAY_TIERS_S, RETRY_TIERS_S
from shared.kafka_admin import ensure_topics
from shared.topics import all_topics

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
JOBS_TOPIC_PARTITIONS = 6  # AUTOMATION_JOBS_TOPIC_PARTITIONS' default, for every topic (as `make run`)


@dataclass
class Stack:
    kafka_bootstrap: str
    redis_url: str
    postgres_admin_url: str | None
    work_dir: Path
    notes: list[str] = field(default_factory=list)
    embedded: dict[str, EmbeddedProcess] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def topic(self, scenario: str, partitions: int = JOBS_TOPIC_PARTITIONS) -> str:
        """A fresh jobs topic for ``scenario``, created with its retry tiers and dead-letter topic."""
        jobs_topic = f"bench.{self.run_id}.{scenario}"
        ensure_topics(
            self.kafka_bootstrap,
            dict.fromkeys(all_topics(jobs_topic, RETRY_TIERS_S, DELAY_TIERS_S), partitions),
        )
        return jobs_topic

    def group(self, scenario: str) -> str:
        return f"bench-{self.run_id}-{scenario}"

    def embedded_pid(self, name: str) -> int | None:
        process = self.embedded.get(name)
        return process.proc.pid if process else None

    @functools.cached_property
    def redis_pid(self) -> int | None:
        """The Redis server's pid when it runs on this machine (to meter its CPU), else None."""
        import redis

        with redis.Redis.from_url(self.redis_url) as client:
            pid = int(client.info("server").get("process_id", 0))
        comm = Path(f"/proc/{pid}/comm")
        return pid if pid and comm.exists() and comm.read_text().startswith(("redis", "valkey")) else None

    def close(self) -> None:
        for process in reversed(list(self.embedded.values())):
            process.stop()


def _postgres_answers(url: str) -> str | None:
    """None if a connection to ``url`` works, else why not."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means: no PostgreSQL for this run
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


def start_stack(work_dir: Path) -> Stack:
    """Find or start the backends; the caller must ``close()`` the returned stack."""
    work_dir.mkdir(parents=True, exist_ok=True)
    embedded: dict[str, EmbeddedProcess] = {}
    notes: list[str] = []
    try:
        kafka = os.environ.get("BENCH_KAFKA_BOOTSTRAP")
        if kafka:
            notes.append(f"Kafka: {kafka} (BENCH_KAFKA_BOOTSTRAP)")
        else:
            embedded["tansu"] = start_tansu(log_path=work_dir / "tansu.log")
            kafka = embedded["tansu"].address
            notes.append(f"Kafka: embedded Tansu (memory storage) at {kafka}")
        redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
        if redis_answers(redis_url):
            notes.append(f"Redis: {redis_url}")
        else:
            embedded["valkey"] = start_valkey(log_path=work_dir / "valkey.log", dir=work_dir)
            notes.append(
                f"Redis: {redis_url} did not answer; embedded valkey at {embedded['valkey'].address}"
            )
            redis_url = embedded["valkey"].address
        postgres: str | None = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        if not postgres:
            notes.append(
                "PostgreSQL: disabled (BENCH_POSTGRES_URL is empty); PostgreSQL scenarios are skipped"
            )
            postgres = None
        elif (why := _postgres_answers(postgres)) is None:
            notes.append(f"PostgreSQL: {postgres.rsplit('@', 1)[-1]} (admin URL for bench_* databases)")
        else:
            notes.append(f"PostgreSQL: unreachable ({why}); PostgreSQL scenarios are skipped")
            postgres = None
    except BaseException:
        for process in embedded.values():
            process.stop()
        raise
    return Stack(kafka, redis_url, postgres, work_dir, notes, embedded)
