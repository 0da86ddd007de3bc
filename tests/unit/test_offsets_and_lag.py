"""The lag metric read from librdkafka statistics (the offsets stored: test_partition_ledger.py)."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY

from executor_service.lag import forget_lag, record_consumer_lag


def _lag(topic: str, partition: str) -> float | None:
    return REGISTRY.get_sample_value("automation_consumer_lag", {"topic": topic, "partition": partition})


def test_lag_per_owned_partition_from_statistics():
    stats = {
        "topics": {
            "lagtest.jobs": {
                "partitions": {
                    "0": {"consumer_lag": 42},
                    "1": {"consumer_lag": 0},
                    "2": {"consumer_lag": -1},  # not owned by this consumer
                    "-1": {"consumer_lag": -1},  # librdkafka's internal UA partition
                }
            }
        }
    }
    record_consumer_lag(json.dumps(stats))
    assert _lag("lagtest.jobs", "0") == 42 and _lag("lagtest.jobs", "1") == 0
    assert _lag("lagtest.jobs", "2") is None and _lag("lagtest.jobs", "-1") is None
    record_consumer_lag("not json")  # ignored, not raised
    assert _lag("lagtest.jobs", "0") == 42


def test_a_revoked_partition_stops_reporting_lag():
    record_consumer_lag(
        json.dumps({"topics": {"lagtest.revoked": {"partitions": {"3": {"consumer_lag": 7}}}}})
    )
    assert _lag("lagtest.revoked", "3") == 7
    forget_lag("lagtest.revoked", 3)
    assert _lag("lagtest.revoked", "3") is None
    forget_lag("lagtest.revoked", 3)  # twice: no error
