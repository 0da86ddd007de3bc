"""Consumer lag per partition, from librdkafka's statistics (emitted every ``statistics.interval.ms``)."""

from __future__ import annotations

import contextlib
import json
import logging

from executor_service import metrics

log = logging.getLogger(__name__)


def record_consumer_lag(stats_json: str) -> None:
    """Set ``automation_consumer_lag{topic,partition}`` from one statistics document.

    Partitions this consumer does not own report -1 and are skipped (their owner reports them).
    """
    try:
        topics = json.loads(stats_json).get("topics", {})
    except ValueError:
        log.warning("unreadable consumer statistics")
        return
    for topic, info in topics.items():
        for partition, p in info.get("partitions", {}).items():
            if partition == "-1" or p.get("consumer_lag", -1) < 0:
                continue
            metrics.CONSUMER_LAG.labels(topic, partition).set(p["consumer_lag"])


def forget_lag(topic: str, partition: int) -> None:
    """Stop exporting the lag of a partition this consumer gave up (its new owner exports it)."""
    with contextlib.suppress(KeyError):  # never reported
        metrics.CONSUMER_LAG.remove(topic, str(partition))
