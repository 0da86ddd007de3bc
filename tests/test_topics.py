"""Topic specs (shared/topics.py), their creation on a real broker (shared/kafka.py) and the retention
rules of Settings."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource
from pydantic import ValidationError

from shared.config import DAY_MS, Settings
from shared.kafka_admin import ensure_topic_specs, ensure_topics
from shared.topics import TopicSpec, all_topics, dead_letter_topic, topic_specs

# --- topic_specs and Settings (no broker) -------------------------------------------------------------


def test_topic_specs_cover_every_topic_with_its_retention():
    settings = Settings(jobs_topic="jobs", jobs_topic_partitions=12, topic_replication_factor=3)
    specs = topic_specs(settings)

    assert list(specs) == all_topics("jobs", settings.retry_tiers_s, settings.delay_tiers_s)
    assert "jobs.retry.256s" in specs and "jobs.delay.65536s" in specs and "jobs.dlq" in specs
    jobs_spec = TopicSpec(12, 3, {"retention.ms": str(7 * DAY_MS)})
    assert {name: spec for name, spec in specs.items() if name != "jobs.dlq"} == dict.fromkeys(
        all_topics("jobs", settings.retry_tiers_s, settings.delay_tiers_s)[:-1], jobs_spec
    )
    assert specs["jobs.dlq"] == TopicSpec(12, 3, {"retention.ms": str(30 * DAY_MS)})


def test_topic_specs_follow_the_settings():
    settings = Settings(
        jobs_topic="j",
        retry_tiers_s=[3],
        delay_tiers_s=[5, 50],
        jobs_topic_retention_ms=3_600_000,
        dead_letter_retention_ms=42,
    )
    specs = topic_specs(settings)
    assert list(specs) == ["j", "j.retry.3s", "j.delay.5s", "j.delay.50s", "j.dlq"]
    assert {name: spec.config["retention.ms"] for name, spec in specs.items()} == {
        "j": "3600000",
        "j.retry.3s": "3600000",
        "j.delay.5s": "3600000",
        "j.delay.50s": "3600000",
        "j.dlq": "42",
    }
    assert {spec.partitions for spec in specs.values()} == {6}
    assert {spec.replication_factor for spec in specs.values()} == {1}


def test_retention_defaults():
    settings = Settings()
    assert settings.eventlog_retention_days == 30
    assert settings.prune_batch_size == 1000
    assert settings.topic_replication_factor == 1
    assert settings.jobs_topic_retention_ms == 7 * 24 * 3600 * 1000 == settings.dedup_ttl_s * 1000
    assert settings.dead_letter_retention_ms == 30 * 24 * 3600 * 1000


def test_jobs_retention_may_not_exceed_the_dedup_ttl():
    assert Settings(dedup_ttl_s=86400, jobs_topic_retention_ms=86400 * 1000).jobs_topic_retention_ms
    with pytest.raises(ValidationError, match="exceeds AUTOMATION_DEDUP_TTL_S") as info:
        Settings(dedup_ttl_s=86400, jobs_topic_retention_ms=86400 * 1000 + 1)
    assert "dedup marker expired" in str(info.value)
    with pytest.raises(ValidationError, match="exceeds AUTOMATION_DEDUP_TTL_S"):
        Settings(dedup_ttl_s=86400)  # the default retention (7 d) is longer than this TTL


def test_jobs_retention_must_exceed_the_longest_tier():
    longest_ms = max(Settings().delay_tiers_s) * 1000  # 65536 s
    assert Settings(jobs_topic_retention_ms=longest_ms + 1).jobs_topic_retention_ms == longest_ms + 1
    with pytest.raises(ValidationError, match="longest retry or delay tier"):
        Settings(jobs_topic_retention_ms=longest_ms)
    # The retry tiers count too.
    with pytest.raises(ValidationError, match=r"longest retry or delay tier \(900 s"):
        Settings(delay_tiers_s=[1], retry_tiers_s=[900], jobs_topic_retention_ms=900_000)
    assert Settings(delay_tiers_s=[1], retry_tiers_s=[900], jobs_topic_retention_ms=900_001)


def test_retention_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTOMATION_JOBS_TOPIC_RETENTION_MS", "86400000")
    monkeypatch.setenv("AUTOMATION_EVENTLOG_RETENTION_DAYS", "90")
    monkeypatch.setenv("AUTOMATION_TOPIC_REPLICATION_FACTOR", "3")
    settings = Settings()
    assert (settings.jobs_topic_retention_ms, settings.eventlog_retention_days) == (86_400_000, 90)
    assert settings.topic_replication_factor == 3
    monkeypatch.setenv("AUTOMATION_JOBS_TOPIC_RETENTION_MS", str(8 * DAY_MS))
    with pytest.raises(ValidationError, match="AUTOMATION_JOBS_TOPIC_RETENTION_MS"):
        Settings()


@pytest.mark.parametrize(
    "field",
    [
        "eventlog_retention_days",
        "prune_batch_size",
        "topic_replication_factor",
        "jobs_topic_retention_ms",
        "dead_letter_retention_ms",
    ],
)
def test_retention_fields_must_be_positive(field):
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: 0})


# --- on the broker -------------------------------------------------------------------------------------


def describe(bootstrap: str, names: list[str]) -> tuple[dict[str, int], dict[str, str | None]]:
    """Partition counts and ``retention.ms`` of the topics, as the broker reports them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = admin.list_topics(timeout=10).topics
    partitions = {name: len(topics[name].partitions) for name in names}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    retention = {}
    for resource, future in admin.describe_configs(resources).items():
        entry = future.result(timeout=10).get("retention.ms")
        retention[resource.name] = None if entry is None else entry.value
    return partitions, retention


@pytest.fixture
def pipeline_settings() -> Settings:
    """Settings naming a fresh set of topics (few tiers, to keep the broker work small)."""
    return Settings(
        jobs_topic=f"test.{uuid.uuid4().hex[:10]}",
        jobs_topic_partitions=4,
        retry_tiers_s=[2, 4],
        delay_tiers_s=[1, 16],
        jobs_topic_retention_ms=3_600_000,
        dead_letter_retention_ms=7_200_000,
    )


def test_ensure_topic_specs_creates_every_topic_then_reports_it_exists(kafka_bootstrap, pipeline_settings):
    specs = topic_specs(pipeline_settings)
    names = list(specs)
    assert len(names) == 6

    assert ensure_topic_specs(kafka_bootstrap, specs) == dict.fromkeys(names, "created")
    partitions, retention = describe(kafka_bootstrap, names)
    assert partitions == dict.fromkeys(names, 4)
    # Both Tansu and Apache Kafka report the retention.ms a topic was created with.
    dlq = dead_letter_topic(pipeline_settings.jobs_topic)
    assert retention == {name: "7200000" if name == dlq else "3600000" for name in names}

    again = {name: TopicSpec(8, 1, {"retention.ms": "1000"}) for name in names}  # would change everything
    assert ensure_topic_specs(kafka_bootstrap, specs) == dict.fromkeys(names, "exists")
    assert ensure_topic_specs(kafka_bootstrap, {names[0]: TopicSpec(2)}) == {names[0]: "exists"}
    report = ensure_topic_specs(kafka_bootstrap, again)
    assert report == dict.fromkeys(names, "exists (4 partitions, wanted 8)")
    assert describe(kafka_bootstrap, names) == (partitions, retention)  # nothing was altered


def test_ensure_topic_specs_creates_only_the_missing_ones(kafka_bootstrap, kafka_topic):
    existing = kafka_topic(2)
    missing = f"test.{uuid.uuid4().hex[:10]}"
    specs = {existing: TopicSpec(2, 1), missing: TopicSpec(3, 1, {"retention.ms": "60000"})}

    assert ensure_topic_specs(kafka_bootstrap, specs) == {existing: "exists", missing: "created"}
    assert describe(kafka_bootstrap, [existing, missing])[0] == {existing: 2, missing: 3}


def test_ensure_topics_still_creates_topics_with_broker_defaults(kafka_bootstrap):
    names = [f"test.{uuid.uuid4().hex[:10]}" for _ in range(2)]
    ensure_topics(kafka_bootstrap, {names[0]: 2, names[1]: 5})
    ensure_topics(kafka_bootstrap, {names[0]: 2, names[1]: 5})  # idempotent
    assert describe(kafka_bootstrap, names)[0] == {names[0]: 2, names[1]: 5}
