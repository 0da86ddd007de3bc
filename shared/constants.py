"""Names shared by both services: topics, Kafka headers, Redis key prefixes, defaults.

Topic names here are defaults; deployments (and tests, which use a fresh topic per test)
override them through settings.
"""

from __future__ import annotations

# Kafka topics
JOBS_TOPIC = "automation.jobs"
RETRY_TOPIC = "automation.jobs.retry"
DEAD_LETTER_TOPIC = "automation.jobs.dlq"

# Kafka headers written on every job message (values are UTF-8 bytes)
HEADER_JOB_ID = "job-id"
HEADER_IDEMPOTENCY_KEY = "idempotency-key"
HEADER_AUTOMATION_TYPE = "automation-type"
HEADER_ATTEMPT = "attempt"
HEADER_CONTENT_TYPE = "content-type"
JOB_CONTENT_TYPE = b"application/x-protobuf; messageType=automation.v1.AutomationJob"

# Redis key prefixes
IDEMPOTENCY_KEY_PREFIX = "automation:idem:"  # trigger: idempotency key -> accepted job
DEDUP_KEY_PREFIX = "automation:dedup:"  # executor: idempotency key -> done marker

# Limits
MAX_ID_LEN = 64
MAX_IDEMPOTENCY_KEY_LEN = 200
