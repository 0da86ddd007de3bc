"""Processes one consumed batch and makes its outcome durable.

``run()``: 1 decode (undecodable → dead-letter topic) and set aside jobs due later; 2 lease every key
(dedup.py; renewed by lease_keeper.py until 6), ask the database which keys already succeeded (its guard
outlives a flushed Redis) and read the bookings' state (checks.py); 3 run jobs concurrently across
bookings, in offset order within one (booking_jobs.py) — a job that no longer makes sense (cancelled,
superseded, disabled, late) ends without sending, one over its channel's rate limit waits parked
(lanes.py) or is deferred (rate_limit.py) — recording each delivery in Redis right after it
(sent_marks.py: pipelined in the background, awaited before the batch ends).
``persist()`` (outcome.py): 4 publish onward (jobs due later or rate-limited to a delay topic, failures
to a retry tier or the dead-letter topic) and wait for the acks; 5 commit the EventLog rows in one
transaction; 6 mark final keys done, release the leases of the others. Jobs whose key another worker
holds are *blocked*: no row; like those whose publish failed they are unfinished (no offset may be
committed past them).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from confluent_kafka import Message

from executor_service import metrics
from executor_service.booking_jobs import BatchState, BookingJobs, BookingRunner, Item
from executor_service.checks import PreSendChecks
from executor_service.dedup import DedupTable, Entry, Marker
from executor_service.failures import Failure, classify
from executor_service.lanes import Lanes
from executor_service.lease_keeper import LeaseKeeper
from executor_service.onward import OnwardPublisher, split_due
from executor_service.outcome import (
    BatchOutcome,
    Pending,
    Stage,
    await_publishes,
    job_log_context,
    observe_end_to_end,
)
from executor_service.pauses import PauseGate
from executor_service.rate_limit import Throttle
from executor_service.runner import JobRun, JobRunner, RunOutcome, event_row
from executor_service.sent_marks import SentRecorder
from shared import failpoints
from shared.codec import decode_job
from shared.db.event_status import EventStatus
from shared.db.eventlog_writer import EventLogWriter
from shared.errors import PoisonMessage
from shared.proto.automation.v1 import automation_pb2 as pb

log = logging.getLogger(__name__)

# A key of the batch still being made durable: blocked like another worker's lease (see run()).
_IN_FLIGHT = Entry(Marker.LEASE, "", "this worker, previous batch")


class BatchProcessor:
    def __init__(
        self,
        runner: JobRunner,
        dedup: DedupTable,
        eventlog: EventLogWriter,
        onward: OnwardPublisher,
        *,
        checks: PreSendChecks,
        jobs_topic: str,
        concurrency: int,
        max_unrecorded_sends: int = 0,
        throttle: Throttle | None = None,
        pauses: PauseGate | None = None,
    ) -> None:
        self._runner = runner
        self._pauses = pauses
        self._dedup = dedup
        self._eventlog = eventlog
        self._onward = onward
        self._checks = checks
        self._jobs_topic = jobs_topic
        self._throttle = throttle or Throttle(None, lambda job: "")
        # At most this many deliveries are ever unrecorded: what one crash can repeat (0: one per lane,
        # as if each lane wrote its marker right after its send).
        self._sent = SentRecorder(dedup, max_unrecorded=max_unrecorded_sends or concurrency)
        self._keeper = LeaseKeeper(dedup)  # our leases live while the batch is in hand, not longer
        self._bookings = BookingRunner(runner, checks, self._throttle, self._sent)
        self._concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="job")

    @property
    def max_unrecorded_sends(self) -> int:
        return self._sent.max_unrecorded

    def run(self, messages: list[Message], busy: Collection[str] = frozenset()) -> BatchOutcome:
        """Decode, lease and run the batch's jobs; nothing is published or written yet.

        ``busy``: the keys of the previous batch, still being made durable (consumer_loop.py): their
        jobs are blocked here as if another worker held them (held aside, tried again once that batch
        is durable), so a key never runs while its previous outcome is not recorded.
        Raises before any job ran when Redis or the database cannot be asked about the keys.
        """
        metrics.BATCH_SIZE.observe(len(messages))
        now_ms = time.time_ns() // 1_000_000
        groups, poison = self._decode(messages)
        groups, deferred = split_due(groups, now_ms)
        groups, held = self._pauses.split(groups) if self._pauses is not None else (groups, [])
        jobs = [job for items in groups.values() for job, _ in items]
        keys = [job.idempotency_key for job in jobs]
        holders = self._dedup.claim(key for key in keys if key not in busy)
        holders.update((key, _IN_FLIGHT) for key in keys if key in busy)
        ticket = self._keeper.add(key for key, holder in holders.items() if holder is None)
        outcome = BatchOutcome(
            [], poison, [], deferred=deferred, held=held, keys=frozenset(keys), lease_ticket=ticket
        )
        try:
            self._run_jobs(outcome, groups, jobs, BatchState(holders, {}, now_ms))
        except BaseException:
            self._keeper.drop(ticket)  # tried again from the claim (our leases are taken again)
            raise
        return outcome

    def _run_jobs(
        self,
        outcome: BatchOutcome,
        groups: dict[bytes, list[Item]],
        jobs: list[pb.AutomationJob],
        state: BatchState,
    ) -> None:
        """Step 3 of run(): the jobs, across lanes; their runs and blocked messages go to ``outcome``."""
        succeeded = self._eventlog.succeeded_keys(outcome.keys)
        state = replace(state, snapshots=self._checks.load(jobs))
        bookings = [BookingJobs(items, set(succeeded)) for items in groups.values()]
        lanes = Lanes(bookings)

        def lane() -> None:  # one of `concurrency` workers, each taking the next booking's jobs
            with lanes.worker():
                while (group := lanes.take()) is not None:
                    self._bookings.run(group, lanes, state)

        lane_count = min(self._concurrency, len(groups))
        if lane_count == 1:  # one lane (one booking): it runs here, with no hand-off to the pool and back
            lane()
        else:
            for lane_future in [self._pool.submit(lane) for _ in range(lane_count)]:
                lane_future.result()
        outcome.runs = [run for group in bookings for run in group.runs]
        outcome.blocked = [msg for group in bookings for msg in group.blocked]
        self._sent.wait_written()  # the deliveries are recorded (or Redis failed: the rows record them)

    def persist(self, outcome: BatchOutcome) -> list[Message]:
        """Make the outcome durable: onward publishes acked, rows committed, keys marked.

        Each stage runs once: after a Redis or database failure (raised), calling again resumes
        where it stopped, without publishing or writing twice. Returns the unfinished messages.
        """
        if outcome.stage < Stage.PUBLISHED:
            outcome.pending = [
                Pending(msg, self._onward.dead_letter(msg, f, attempts=1), None) for msg, f in outcome.poison
            ]
            outcome.pending += [self._defer(job, msg) for job, msg in outcome.deferred]
            throttled = [run for run in outcome.runs if run.outcome is RunOutcome.THROTTLED]
            outcome.pending += [
                Pending(r.msg, self._onward.later(r.job, r.msg, r.throttled_s or 0.0), None)
                for r in throttled
            ]
            outcome.pending += [self._pauses.hold(h) for h in outcome.held if self._pauses is not None]
            for run in (r for r in outcome.runs if r.outcome is not RunOutcome.THROTTLED):
                status, publish = self._disposition(run)
                row = event_row(run, status, redact_contacts=self._runner.redact_contacts)
                if publish is None:
                    outcome.rows.append(row)
                else:
                    outcome.pending.append(Pending(run.msg, publish, row))
            failed = await_publishes(outcome.pending, outcome.rows)
            outcome.unfinished = [p.msg for p in failed] + outcome.blocked
            outcome.released = [p.row.idempotency_key for p in failed if p.row is not None]
            outcome.released += [r.job.idempotency_key for r in throttled]  # taken again on their return
            outcome.stage = Stage.PUBLISHED
        if outcome.stage < Stage.WRITTEN:
            outcome.rows = self._eventlog.write(outcome.rows)
            outcome.stage = Stage.WRITTEN
            for (kind, status), count in Counter((r.automation_type, r.status) for r in outcome.rows).items():
                metrics.JOBS.labels(kind, status).inc(count)
            observe_end_to_end(outcome.runs, time.time())
            failpoints.reached("after_rows_written")
        if outcome.stage < Stage.MARKED:
            final = [r for r in outcome.rows if r.status in EventStatus.FINAL]
            self._dedup.mark_done({r.idempotency_key: r.job_id for r in final})
            # Failed attempts and not-durable ones give up their leases: whoever consumes them next runs them.
            not_done = [r.idempotency_key for r in outcome.rows if r.status not in EventStatus.FINAL]
            self._dedup.release(not_done + outcome.released)
            outcome.stage = Stage.MARKED
            self._keeper.drop(outcome.lease_ticket)
            failpoints.reached("after_done_mark")
        return outcome.unfinished

    @staticmethod
    def _decode(messages: list[Message]) -> tuple[dict[bytes, list[Item]], list[tuple[Message, Failure]]]:
        groups: dict[bytes, list[Item]] = defaultdict(list)
        poison: list[tuple[Message, Failure]] = []
        for msg in messages:
            try:
                job = decode_job(msg.value())
            except PoisonMessage as exc:
                failure = classify(exc)
                metrics.POISON_MESSAGES.inc()
                metrics.DEAD_LETTERS.labels("unknown", failure.error_class).inc()
                log.error(
                    "undecodable message dead-lettered",
                    extra={"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()},
                )
                poison.append((msg, failure))
                continue
            groups[msg.key() or b""].append((job, msg))
        return groups, poison

    def _defer(self, job: pb.AutomationJob, msg: Message) -> Pending:
        """Send a job due later to its next delay topic; the first deferral writes a ``scheduled`` row."""
        topic, publish = self._onward.deferred(job, msg)
        if msg.topic() != self._jobs_topic:
            return Pending(msg, publish, None)
        scheduled, redact = self._runner.deferred(job, msg, topic), self._runner.redact_contacts
        return Pending(msg, publish, event_row(scheduled, EventStatus.SCHEDULED, redact_contacts=redact))

    def _disposition(self, run: JobRun) -> tuple[str, Future | None]:
        """The run's EventLog status, and the publish (if any) that makes it durable."""
        if run.outcome is RunOutcome.DUPLICATE:
            metrics.DEDUP_SKIPS.labels(run.automation_type).inc()
            return EventStatus.SKIPPED_DUPLICATE, None
        if run.outcome is RunOutcome.ENDED and run.end_status is not None:
            with job_log_context(run.job, run.msg):
                log.info(
                    "job ended without sending",
                    extra={"job_id": run.job.job_id, "status": run.end_status, "reason": run.outputs},
                )
            return run.end_status, None
        if run.outcome is not RunOutcome.FAILED or run.failure is None:
            return EventStatus.SUCCEEDED, None  # nothing logged: no log context to set up per job
        with job_log_context(run.job, run.msg):
            hop, publish = self._onward.failed(run.job, run.msg, run.failure)
        return hop.status, publish

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._sent.close()
        self._keeper.close()
        if self._pauses is not None:
            self._pauses.close()
