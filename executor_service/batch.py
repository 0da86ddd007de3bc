"""Processes one consumed batch: decode, dedup, run jobs (concurrent across bookings, in order
within a booking), commit the batch's EventLog rows in one transaction, then mark keys done.

The caller stores the batch's offsets only after ``process()`` returns, i.e. after the rows
are committed: a crash before that redelivers the batch, and the dedup table skips what ran.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Message

from executor_service import metrics
from executor_service.dedup import DedupTable
from executor_service.eventlog import EventLogWriter
from executor_service.runner import JobRunner, Source
from shared.codec import decode_job
from shared.db.models import EventStatus
from shared.errors import PoisonMessage
from shared.proto.automation.v1 import automation_pb2 as pb

log = logging.getLogger(__name__)

_Item = tuple[pb.AutomationJob, Source]


class BatchProcessor:
    def __init__(
        self, runner: JobRunner, dedup: DedupTable, eventlog: EventLogWriter, *, concurrency: int
    ) -> None:
        self._runner = runner
        self._dedup = dedup
        self._eventlog = eventlog
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="job")

    def process(self, messages: list[Message]) -> None:
        metrics.BATCH_SIZE.observe(len(messages))
        groups = self._group_by_booking(messages)
        if not groups:
            return
        done = self._dedup.done_keys(job.idempotency_key for items in groups.values() for job, _ in items)
        results = self._pool.map(lambda items: self._run_group(items, done), groups.values())
        rows = [row for group_rows in results for row in group_rows]
        self._eventlog.write(rows)
        self._dedup.mark_done(
            {row["idempotency_key"]: row["job_id"] for row in rows if row["status"] == EventStatus.SUCCEEDED}
        )

    def _run_group(self, items: list[_Item], done: set[str]) -> list[dict[str, Any]]:
        """Run one booking's jobs in order; a key that succeeds here is done for the rest of the group."""
        rows = []
        seen = set(done)
        for job, source in items:
            if job.idempotency_key in seen:
                rows.append(self._runner.skipped(job, source))
                continue
            row = self._runner.run(job, source)
            if row["status"] == EventStatus.SUCCEEDED:
                seen.add(job.idempotency_key)
            rows.append(row)
        return rows

    @staticmethod
    def _group_by_booking(messages: list[Message]) -> dict[bytes, list[_Item]]:
        groups: dict[bytes, list[_Item]] = defaultdict(list)
        for msg in messages:
            try:
                job = decode_job(msg.value())
            except PoisonMessage as exc:
                # Issue #3 routes these to the dead-letter topic; for now they are counted and logged.
                metrics.POISON_MESSAGES.inc()
                log.error(
                    "undecodable message skipped",
                    extra={
                        "topic": msg.topic(),
                        "partition": msg.partition(),
                        "offset": msg.offset(),
                        "error": str(exc),
                    },
                )
                continue
            groups[msg.key() or b""].append((job, Source(msg.topic(), msg.partition(), msg.offset())))
        return groups

    def close(self) -> None:
        self._pool.shutdown(wait=True)
