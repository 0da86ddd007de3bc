"""Topic creation with partitions, replication factor and configs (``retention.ms``), idempotently.

Re-exported by ``shared.kafka``; the specs of the pipeline's topics come from ``shared.topics.topic_specs``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from shared.topics import TopicSpec

log = logging.getLogger("shared.kafka")


_LIBRDKAFKA_CRITICAL = 2  # syslog levels; connection failures are logged at 3 (error)


def ensure_topic_specs(
    bootstrap_servers: str,
    specs: Mapping[str, TopicSpec],
    timeout_s: float = 15.0,
    security: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> dict[str, str]:
    """Create the topics of ``specs`` that do not exist yet, with their partitions, replication factor and
    configs; existing topics are never altered. Returns, per topic in ``specs`` order, ``"created"``,
    ``"exists"``, or ``"exists (N partitions, wanted M)"`` when an existing topic has fewer partitions than
    its spec (more are fine). Idempotent; a topic created concurrently by someone else counts as existing.
    Raises KafkaException on any other failure (e.g. a replication factor above the number of brokers).
    ``security``: librdkafka TLS/SASL settings (``Settings.kafka_security()``). ``quiet``: librdkafka logs
    nothing below critical (a CLI reports the one error it raises instead of a line per reconnect)."""
    config: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap_servers, **(security or {})}
    if quiet:
        config["log_level"] = _LIBRDKAFKA_CRITICAL
    admin = AdminClient(config)
    existing = admin.list_topics(timeout=timeout_s).topics
    outcome: dict[str, str] = {}
    missing: list[NewTopic] = []
    for name, spec in specs.items():
        if name not in existing:
            outcome[name] = "created"
            missing.append(NewTopic(name, spec.partitions, spec.replication_factor, config=dict(spec.config)))
            continue
        have = len(existing[name].partitions)
        outcome[name] = (
            "exists" if have >= spec.partitions else f"exists ({have} partitions, wanted {spec.partitions})"
        )
    if missing:
        for name, fut in admin.create_topics(missing, operation_timeout=timeout_s).items():
            try:
                fut.result(timeout=timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                outcome[name] = "exists"
                continue
            log.info("created topic", extra={"topic": name, "partitions": specs[name].partitions})
    return outcome


def ensure_topics(bootstrap_servers: str, topics: dict[str, int], timeout_s: float = 15.0) -> None:
    """Create the topics (name -> partitions) that do not exist yet, with the broker's default replication
    and configs; existing ones are left as they are. ``ensure_topic_specs`` sets replication and retention."""
    ensure_topic_specs(bootstrap_servers, {name: TopicSpec(n) for name, n in topics.items()}, timeout_s)
