"""Shared fixtures: Kafka, Redis, databases and an HTTP receiver.

Backends are found in this order:

1. environment variables: ``TEST_KAFKA_BOOTSTRAP_SERVERS``, ``TEST_REDIS_URL`` (its database is
   FLUSHED before every test using ``redis_db_url``: point it at a dedicated db such as ``/15``),
   ``TEST_DATABASE_URL`` (SQLAlchemy URL of a PostgreSQL server whose user may CREATE DATABASE, e.g.
   ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
2. testcontainers, when a Docker engine answers;
3. embedded processes (Tansu broker, valkey-server) started here; PostgreSQL has no embedded
   fallback, so PostgreSQL tests skip (or fail when ``CI=true``).
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.embedded import start_tansu, start_valkey
from tests.support.http_receiver import HttpReceiver
from tests.support.kafka_tools import end_offsets

# Local SMS (Twilio-compatible) and SMTP servers: sms_server, smtp_server, smtp_server_with_auth,
# raw_tcp_server.
pytest_plugins = ["tests.support.channel_servers", "tests.support.k8s_render"]

KAFKA_SESSION_TIMEOUT_MS = 6000  # a group join takes about half of it on Tansu


@functools.cache
def docker_available() -> bool:
    """True if a Docker engine answers (checked once per session)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


# --- Kafka -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a Kafka-protocol broker for the whole session."""
    if env := os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS"):
        yield env
    elif docker_available():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        broker = start_tansu()
        try:
            yield broker.address
        finally:
            broker.stop()


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Callable[..., str]:
    """Factory ``make_topic(partitions=3) -> name`` creating a fresh ``test.<hex>`` topic."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})

    def make_topic(partitions: int = 3) -> str:
        name = f"test.{uuid.uuid4().hex[:10]}"
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        futures[name].result(timeout=10)
        return name

    return make_topic


@pytest.fixture
def group_id() -> str:
    """A fresh consumer group id."""
    return f"test-group-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def read_topic(kafka_bootstrap: str) -> Callable[..., list]:
    """``read_topic(topic, count, timeout_s=20) -> list[Message]``: read every partition from the
    beginning (assigned, no group join) until ``count`` messages arrived or the timeout passed
    (returns what it got)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    def read(topic: str, count: int, timeout_s: float = 20) -> list:
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"test-reader-{uuid.uuid4().hex[:10]}",
                "enable.auto.commit": False,
            }
        )
        messages = []
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
            deadline = time.monotonic() + timeout_s
            while len(messages) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.1)
                if msg is None:
                    continue
                if err := msg.error():
                    if err.retriable() or err.code() == err._PARTITION_EOF:
                        continue
                    raise RuntimeError(f"reading {topic}: {err}")
                messages.append(msg)
        finally:
            consumer.close()
        return messages

    return read


@pytest.fixture
def topic_size(kafka_bootstrap: str) -> Callable[[str], int]:
    """``topic_size(topic) -> int``: messages in the (never compacted, never truncated) topic."""
    return lambda topic: sum(end_offsets(kafka_bootstrap, topic).values())


# --- Redis -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://`` URL of a Redis server for the whole session (one database per xdist worker)."""
    if env := os.environ.get("TEST_REDIS_URL"):
        yield worker_redis_url(env, os.environ.get("PYTEST_XDIST_WORKER", ""))
    elif docker_available():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer() as container:
            yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
    else:
        server = start_valkey()
        try:
            yield server.address
        finally:
            server.stop()


def worker_redis_url(url: str, worker: str) -> str:
    """``url`` for pytest-xdist worker ``gwN``: database ``db - N`` (``/15`` -> 15, 14, 13, ... for
    gw0, gw1, gw2, ...), so that workers never FLUSHDB each other's keys; ``url`` itself without xdist."""
    if not worker.startswith("gw"):
        return url
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    base_db = int(parts.path.strip("/") or 0)
    db = base_db - int(worker[2:])
    if db < 0:
        raise pytest.UsageError(f"TEST_REDIS_URL's db {base_db} leaves no Redis database for xdist {worker}")
    return parts._replace(path=f"/{db}").geturl()


@pytest.fixture
def redis_db_url(redis_url: str) -> str:
    """``redis_url`` after FLUSHDB of its database (hence TEST_REDIS_URL must name a test-only db)."""
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    return redis_url


# --- Databases ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    """SQLAlchemy URL of a PostgreSQL server whose user may create databases, or None."""
    if env := os.environ.get("TEST_DATABASE_URL"):
        yield env
    elif docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
            yield container.get_connection_url()
    else:
        yield None


@pytest.fixture
def postgres_url(postgres_admin_url: str | None) -> Iterator[str]:
    """URL of a fresh, empty database ``t_<hex>``, dropped after the test."""
    if postgres_admin_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL on CI: set TEST_DATABASE_URL")
        pytest.skip("no PostgreSQL: set TEST_DATABASE_URL")
    from sqlalchemy import create_engine, make_url, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path}/eventlog.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL (marked ``postgres``)."""
    return request.getfixturevalue(f"{request.param}_url")


# --- Pipeline ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def automations_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped automation settings without quiet hours, so that what a test sends does not
    depend on the time of day it runs (tests of quiet hours use the shipped file)."""
    from tests.support.automations import settings_file

    return settings_file(tmp_path_factory.mktemp("automations") / "automations.toml", quiet_hours=False)


@pytest.fixture
def settings(
    kafka_bootstrap,
    redis_db_url,
    database_url,
    kafka_topic,
    group_id,
    http_receiver,
    automations_file,
    tmp_path,
):
    """Settings for one test's pipeline: fresh topics (jobs, retry tiers, delay tiers, dead letters),
    group and database; Redis flushed; the webhook channel pointed at ``http_receiver``; no quiet hours."""
    from shared.config import Settings
    from shared.db.migrate import upgrade
    from shared.kafka_admin import ensure_topics
    from shared.topics import all_topics

    upgrade(database_url)
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_db_url,
        database_url=database_url,
        var_dir=tmp_path,
        jobs_topic=kafka_topic(3),
        consumer_group=group_id,
        session_timeout_ms=KAFKA_SESSION_TIMEOUT_MS,
        default_channel="webhook",
        webhook_url=http_receiver.url,
        produce_timeout_s=10,
        delay_tiers_s=[1, 4, 16],  # fewer topics to create per test; hops cover any delay
        automations_file=automations_file,
    )
    topics = all_topics(settings.jobs_topic, settings.retry_tiers_s, settings.delay_tiers_s)
    ensure_topics(kafka_bootstrap, dict.fromkeys(topics, 3))
    return settings


# --- HTTP --------------------------------------------------------------------------------------


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """A real HTTP server recording POSTs; see ``tests.support.http_receiver.HttpReceiver``."""
    receiver = HttpReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
