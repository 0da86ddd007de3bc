"""Names shared by both services: topics, Kafka headers, Redis key prefixes, defaults.

Topic names here are defaults; deployments (and tests, which use a fresh topic per test)
override them through settings.
"""

from __future__ import annotations

# Kafka topics
JOBS_TOPIC = "automation.jobs"
RETRY_SUFFIX = ".retry"  # + ".<tier>s": automation.jobs.retry.2s, .4s, ... (shared/topics.py)
DEAD_LETTER_SUFFIX = ".dlq"  # automation.jobs.dlq
RETRY_TIERS_S = (2, 4, 8, 16, 32, 64, 128, 256)
DELAY_SUFFIX = ".delay"  # + ".<tier>s": scheduled jobs waiting for their due time (shared/topics.py)
# Powers of 4 from 1 s to ~18 h: a job due in 3 days makes about a dozen hops, each waiting exactly its tier.
DELAY_TIERS_S = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)

# Kafka headers written on every job message (values are UTF-8 bytes)
HEADER_JOB_ID = "job-id"
HEADER_IDEMPOTENCY_KEY = "idempotency-key"
HEADER_AUTOMATION_TYPE = "automation-type"
HEADER_ATTEMPT = "attempt"
HEADER_CONTENT_TYPE = "content-type"
JOB_CONTENT_TYPE = b"application/x-protobuf; messageType=automation.v1.AutomationJob"
# On retry- and delay-topic messages: when the message may be taken (epoch milliseconds).
HEADER_DUE_AT_MS = "due-at-ms"
# Where a job was first consumed and first failed; kept through retries into the dead-letter topic.
HEADER_ORIGINAL_TOPIC = "original-topic"
HEADER_ORIGINAL_PARTITION = "original-partition"
HEADER_ORIGINAL_OFFSET = "original-offset"
HEADER_ORIGINAL_KEY = "original-key"
HEADER_FIRST_FAILURE_AT = "first-failure-at"  # ISO 8601 UTC
HEADER_ATTEMPTS = "attempts"
HEADER_ERROR_CLASS = "error-class"
HEADER_ERROR_MESSAGE = "error-message"  # truncated to MAX_ERROR_HEADER_BYTES
HEADER_TRACEPARENT = "traceparent"  # W3C trace context, passed through untouched
MAX_ERROR_HEADER_BYTES = 512

# Redis key prefixes
IDEMPOTENCY_KEY_PREFIX = "automation:idem:"  # trigger: idempotency key -> accepted job
DEDUP_KEY_PREFIX = "automation:dedup:"  # executor: idempotency key -> done marker
BOOKING_KEY_PREFIX = "automation:booking:"  # booking id -> newest versions, state, cancellations
RATE_LIMIT_KEY_PREFIX = "automation:rate:"  # executor: channel + sender digest -> rate limit bucket

# Executor leases (executor_service/lease_keeper.py, partition_ledger.py): a held lease is renewed this
# many times per lease length (one may fail and the next still comes in time); a job blocked by another
# worker's lease is tried again after this long, alone (the messages behind it are not run again).
DEDUP_LEASE_RENEWALS_PER_LEASE = 3
BLOCKED_RETRY_S = 1.0

# Channel rate limits (executor_service/rate_limit.py): a job whose send slot is at most this far away
# waits for it inside its batch (never longer than half a lease); further away, it goes through the
# delay tiers instead.
RATE_LIMIT_MAX_WAIT_S = 0.5

# Lazy tier fetch (executor_service/pause_schedule.py): a partition of the shortest retry or delay tier,
# read to its end, is fetched again after this long (it also takes waits shorter than its tier).
SHORTEST_TIER_PARK_S = 0.25
# Once the consume loop got no message for IDLE_AFTER_S, a jobs partition read to its end is parked for
# at least IDLE_JOBS_PARK_S, until the next multiple of it (executor_service/parking.py: parks end
# together). A partition resumed on that grid reads its end again one fetch wait later, so the next end
# is two grid steps on: an idle executor fetches every 2 * IDLE_JOBS_PARK_S (5 times a second), not once
# per fetch.wait.max.ms (what an idle Tansu broker spends is per fetch request, see bench/README.md), and
# the first job after a quiet spell would wait up to ~2 * IDLE_JOBS_PARK_S (`python -m bench.first_job`)
# but for the trigger's wake-up call below.
IDLE_AFTER_S = 1.0
IDLE_JOBS_PARK_S = 0.1
# The wake-up call (shared/doorbell.py): once the broker acknowledged a job, the trigger publishes on this
# Redis pub/sub channel (+ the jobs topic), at most every WAKE_RING_INTERVAL_S per trigger process; an
# executor hearing it resumes its parked jobs partitions on its next loop turn and parks none again for
# IDLE_AFTER_S (as after a message). A ring skipped means this trigger rang less than the interval ago:
# every executor listening heard that one and is not parked yet, whichever of them takes the job.
WAKE_CHANNEL_PREFIX = "automation:wake:"
WAKE_RING_INTERVAL_S = 0.05
# While its jobs partitions are parked, the executor's loop turns (and so looks for a ring) this often.
WAKE_TURN_S = 0.01

# Trigger dependency checks (trigger_service/dependencies.py): longest one check may take before its
# dependency counts as down (a hung check stays down until it answers).
DEPENDENCY_CHECK_TIMEOUT_S = 2.0

# Limits
MAX_ID_LEN = 64
MAX_IDEMPOTENCY_KEY_LEN = 200

# Waiting for the database schema (shared/db/schema.py): how often it is checked, how often a line says so.
SCHEMA_CHECK_INTERVAL_S = 2.0
SCHEMA_LOG_INTERVAL_S = 10.0
# PostgreSQL: longest a connection attempt may take (shared/db/engine.py; the URL's connect_timeout wins).
PG_CONNECT_TIMEOUT_S = 5
# The executor's pooled PostgreSQL connections: pinged before use only once idle this long (db/engine.py).
PG_PING_AFTER_IDLE_S = 1.0

# Operator RPCs: runs, dead letters, replays (trigger_service/operator_validation.py)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE_TOKEN_LEN = 64  # a token is base64 of "id:<row id>": 32 characters at most
MAX_REPLAY_PER_CALL = 500
MIN_REPLAY_RATE_PER_S = 0.1  # a slower pace would not replay one dead letter within a call
MAX_REPLAY_RATE_PER_S = 10_000.0
MAX_FILTER_ERROR_CLASSES = 32
MAX_ERROR_CLASS_LEN = 64  # the EventLog column's length
# A page of runs or dead letters is cut short (next_page_token goes on) before its rows pass this many
# bytes: 500 rows of large bookings would not fit the 4 MiB gRPC message limit.
MAX_PAGE_BYTES = 2 * 1024 * 1024
