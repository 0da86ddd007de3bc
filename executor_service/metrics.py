"""Prometheus metrics of the executor service (labels stay low-cardinality: never a booking id)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.vocabulary import RATE_LIMITED_CHANNELS

JOBS = Counter(
    "automation_jobs_total", "Job runs by automation type and EventLog status", ["automation_type", "status"]
)
JOB_DURATION = Histogram(
    "automation_job_duration_seconds",
    "Time to run one job (render and send), by automation type",
    ["automation_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEDUP_SKIPS = Counter(
    "automation_dedup_skips_total",
    "Jobs skipped because their idempotency key already ran",
    ["automation_type"],
)
POISON_MESSAGES = Counter("automation_poison_messages_total", "Messages whose payload could not be decoded")
BATCH_SIZE = Histogram(
    "automation_batch_size", "Messages per consumed batch", buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
)
EVENTLOG_WRITE_DURATION = Histogram(
    "automation_eventlog_write_duration_seconds",
    "Time to commit one batch of EventLog rows",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTLOG_WRITE_ERRORS = Counter("automation_eventlog_write_errors_total", "Failed EventLog batch commits")
RETRIES = Counter(
    "automation_retries_total",
    "Retries scheduled, by automation type and the attempt that failed",
    ["automation_type", "attempt"],
)
DEAD_LETTERS = Counter(
    "automation_dead_letters_total",
    "Jobs parked in the dead-letter topic, by type and error class",
    ["automation_type", "error_class"],
)
RETRY_RELEASE_LATENESS = Histogram(
    "automation_retry_release_lateness_seconds",
    "How late a retry was released after its due time",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PAUSED_PARTITIONS = Gauge(
    "automation_paused_partitions",
    "Partitions paused by the executor: a job at their head not due yet, or idle (every tier partition "
    "and, briefly, the jobs partitions); high when idle is normal",
)
OUTAGE_PAUSED_SECONDS = Counter(
    "automation_outage_paused_seconds_total",
    "Time consumption was paused because Redis or the database failed",
)
READY = Gauge(
    "automation_executor_ready", "1 when the executor takes work, 0 while paused for an outage or draining"
)
CONSUMER_LAG = Gauge(
    "automation_consumer_lag", "Messages behind the end of each owned partition", ["topic", "partition"]
)
SEND_LATENESS = Histogram(
    "automation_send_lateness_seconds",
    "Scheduled jobs: when the send started minus when the job was due",
    ["automation_type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
DEFERRED_JOBS = Counter(
    "automation_deferred_jobs_total",
    "Jobs written to a delay topic (each hop counts), by type",
    ["automation_type"],
)
END_TO_END = Histogram(
    "automation_end_to_end_seconds",
    "Jobs due at once: from the enqueue call to their success row committed",
    ["automation_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
THROTTLED_JOBS = Counter(
    "automation_throttled_jobs_total",
    "Sends held back by a channel rate limit, by channel and what the job did (waited, deferred)",
    ["channel", "action"],
)
THROTTLED_SECONDS = Counter(
    "automation_throttled_seconds_total",
    "Time jobs were held back by a channel rate limit (waited in the batch or deferred), by channel",
    ["channel"],
)
THROTTLE_WAIT = Histogram(
    "automation_throttle_wait_seconds",
    "How long one throttled send was held back, by channel",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 1800),
)
for _channel in RATE_LIMITED_CHANNELS:  # exported from the start (0 until a limit holds a send back)
    THROTTLED_SECONDS.labels(_channel)
    for _action in ("waited", "deferred"):
        THROTTLED_JOBS.labels(_channel, _action)
PAUSED = Gauge(
    "automation_paused",
    "1 while a pause (PauseAutomations) of this scope is in force, as this executor last read it",
    ["scope", "value"],  # scope: type | channel | all; value: the type or channel name ("" for all)
)
PAUSE_STARTED = Gauge(
    "automation_pause_started_timestamp_seconds",
    "When the pause of this scope in force started (Unix time); absent when not paused",
    ["scope", "value"],
)
PAUSE_DEFERRALS = Counter(
    "automation_pause_deferrals_total",
    "Due jobs held back by a pause and written to the re-check delay tier (each re-check counts)",
    ["automation_type", "scope"],
)
