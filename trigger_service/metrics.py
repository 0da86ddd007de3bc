"""Prometheus metrics of the trigger service (labels stay low-cardinality: never a booking id)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GRPC_REQUESTS = Counter(
    "automation_grpc_requests_total", "gRPC calls handled, by method and status code", ["method", "code"]
)
GRPC_DURATION = Histogram(
    "automation_grpc_request_duration_seconds",
    "gRPC call latency by method",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ENQUEUE_DURATION = Histogram(
    "automation_enqueue_duration_seconds",
    "EnqueueAutomation latency from call to broker acknowledgement, by result",
    ["result"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ENQUEUED_JOBS = Counter(
    "automation_enqueued_jobs_total",
    "Jobs accepted by the trigger, by automation type and result (accepted|duplicate)",
    ["automation_type", "result"],
)
PRODUCE_ERRORS = Counter(
    "automation_produce_errors_total", "Writes to Kafka that were not acknowledged, by reason", ["reason"]
)
VALIDATION_FAILURES = Counter(
    "automation_validation_failures_total", "Requests rejected as INVALID_ARGUMENT, by field", ["field"]
)
ENQUEUE_BATCH_SIZE = Histogram(
    "automation_enqueue_batch_items",
    "Items per EnqueueAutomations call",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500),
)
COALESCED_BATCH_SIZE = Histogram(
    "automation_enqueue_coalesced_items",
    "EnqueueAutomation calls enqueued together in one batch (coalescer.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500),
)
READY = Gauge("automation_trigger_ready", "1 while the trigger serves calls, 0 while it starts or drains")
DEPENDENCY_UP = Gauge(
    "automation_dependency_up",
    "1 while the trigger's last background check of the dependency passed (redis|kafka|database)",
    ["dependency"],
)
AUTH_FAILURES = Counter(
    "automation_auth_failures_total",
    "gRPC calls refused by caller authentication, by reason (missing|invalid|scope|san; auth.py)",
    ["reason"],
)
