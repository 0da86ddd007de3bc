"""BatchProcessor.run with ``busy`` keys (the pipelined loop, consumer_loop.py): a job whose key belongs to
the batch still being made durable — its lease still ours, its row not committed, its done-mark not set —
is not run again and its key is not even claimed: it is blocked like a key another worker holds (held
aside, tried again once that batch is durable), while the booking's other jobs run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from executor_service.batch import BatchProcessor
from executor_service.runner import JobRun, RunOutcome
from shared.codec import encode_job
from tests.support.fake_message import FakeMessage
from tests.support.jobs import make_job


@dataclass
class FakeDedup:
    lease_s: float = 15.0
    claimed: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def claim(self, keys):
        keys = list(keys)
        self.claimed += keys
        return dict.fromkeys(keys)

    def mark_sent_many(self, marks) -> None:
        self.sent += [key for key, _, _ in marks]

    def renew(self, keys) -> int:
        return 0


class FakeEventLog:
    def succeeded_keys(self, keys) -> set[str]:
        return set()


class FakeChecks:
    def load(self, jobs) -> dict:
        return {}

    def verdict(self, job, snapshots, now_ms):
        return None


@dataclass
class FakeRunner:
    ran: list[str] = field(default_factory=list)
    redact_contacts: bool = False

    def run(self, job, msg, reserve, unreserve) -> JobRun:
        reserve()  # the send slot, taken right before the send as JobRunner does
        self.ran.append(job.idempotency_key)
        return JobRun(job, msg, datetime.now(UTC), RunOutcome.SENT, outputs={})


def message(job, offset: int) -> FakeMessage:
    key, value, headers = encode_job(job)
    return FakeMessage(offset, key, value, tuple(headers))


def test_a_key_of_the_batch_in_flight_is_blocked_not_run_nor_claimed():
    dedup, runner = FakeDedup(), FakeRunner()
    processor = BatchProcessor(
        runner,  # type: ignore[arg-type]
        dedup,  # type: ignore[arg-type]
        FakeEventLog(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        checks=FakeChecks(),  # type: ignore[arg-type]
        jobs_topic="jobs",
        concurrency=2,
    )
    try:
        again, other = make_job("b-1"), make_job("b-1")
        batch = [message(again, 7), message(other, 8)]
        outcome = processor.run(batch, busy=frozenset({again.idempotency_key}))
        assert runner.ran == [other.idempotency_key], "a key of the batch in flight ran again"
        assert dedup.claimed == [other.idempotency_key], "its lease is the batch in flight's, not claimed"
        assert [m.offset() for m in outcome.blocked] == [7], "held aside, tried again later"
        assert [r.job.idempotency_key for r in outcome.runs] == [other.idempotency_key]
        assert dedup.sent == [other.idempotency_key]
        assert again.idempotency_key in outcome.keys  # busy for the batch after, too

        # once that batch is durable the key is not busy any more: it runs (here: nothing recorded it)
        retried = processor.run([message(again, 7)])
        assert runner.ran[-1] == again.idempotency_key and not retried.blocked
    finally:
        processor.close()
