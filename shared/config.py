"""Settings for both services, read from the environment (prefix ``AUTOMATION_``).

Settings are read once, at a process entry point, and passed down; nothing else reads the
environment (``Settings.from_environment()``). Secrets are ``SecretStr``: never printed, logged or exported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import constants
from shared.auth_settings import AuthMode, CallerToken, check_auth_settings
from shared.retry import RetryPolicy
from shared.vocabulary import CHANNEL_NAMES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"
DAY_MS = 24 * 3600 * 1000


class Settings(BaseSettings):
    """Every knob of the pipeline; see README.md and .env.example for the list."""

    model_config = SettingsConfigDict(env_prefix="AUTOMATION_", extra="ignore")

    # Backends. TLS to Redis: a rediss:// URL (add ?ssl_ca_certs=/path, ssl_cert_reqs=required); TLS to
    # PostgreSQL: ?sslmode=verify-full&sslrootcert=/path in the URL. Kafka: the kafka_security_* settings.
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None  # client certificate (mutual TLS to the brokers)
    kafka_ssl_key_file: Path | None = None
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", pattern="^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    database_url: SecretStr | None = None  # default: SQLite file under var_dir
    var_dir: Path = DEFAULT_VAR_DIR
    log_level: str = Field(default="INFO", pattern="^(?i)(debug|info|warning|error)$")

    # Topics
    jobs_topic: str = constants.JOBS_TOPIC
    jobs_topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)  # production: 3
    # Retention of the jobs, retry and delay topics: at most dedup_ttl_s (a message must never be
    # redelivered after its dedup marker expired) and longer than the longest retry or delay tier.
    jobs_topic_retention_ms: int = Field(default=7 * DAY_MS, gt=0)
    # Dead letters stay replayable as long as their EventLog rows exist (eventlog_retention_days).
    dead_letter_retention_ms: int = Field(default=30 * DAY_MS, gt=0)

    # Trigger service
    # Where the gRPC API binds: loopback unless set. With auth_mode none the trigger refuses a host that is
    # not loopback (127.0.0.0/8, ::1, localhost) unless insecure_allow_unauthenticated (then it warns).
    listen_host: str = "127.0.0.1"
    insecure_allow_unauthenticated: bool = False
    # Where the HTTP /metrics, /healthz, /readyz servers of both services bind (Kubernetes: 0.0.0.0,
    # so that the kubelet's probes and Prometheus reach them).
    metrics_listen_host: str = "127.0.0.1"
    grpc_port: int = 50051
    grpc_max_workers: int = Field(default=32, ge=1)
    trigger_metrics_port: int = 8001
    produce_timeout_s: float = Field(default=5.0, gt=0)  # longest a call waits for the broker's ack
    produce_delivery_timeout_s: float = Field(default=30.0, gt=0)  # librdkafka delivery.timeout.ms
    idempotency_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # Limits on what callers send (trigger_service/limits.py). Largest request or answer, in bytes: bigger
    # requests get RESOURCE_EXHAUSTED (a full 500-item EnqueueAutomations batch fits in the default).
    grpc_max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    # A call without a deadline, or with a longer one, is handled as if its deadline were this long.
    max_call_deadline_s: float = Field(default=30.0, gt=0)
    # Per-caller token bucket (caller: the authenticated name, else the peer address without its port):
    # calls per second and burst; 0 disables. Over it: RESOURCE_EXHAUSTED with a RetryInfo delay.
    rate_limit_per_s: float = Field(default=0.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    grpc_reflection: bool = False  # server reflection (grpcurl `list`); `make run` turns it on
    # How often the trigger checks Redis, Kafka and the database in the background (one PING, one
    # metadata request, one SELECT 1 each): automation_dependency_up and the gRPC health entries.
    dependency_check_interval_s: float = Field(default=2.0, gt=0)

    # Callers of the trigger (README.md, "Security: callers"): none | token | mtls | mtls+token
    auth_mode: AuthMode = "none"
    # TLS: served when tls_cert_file is set (required by the mtls modes, which also need the client CA).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # mtls: client certificates must carry one of these DNS/URI SANs; empty = any cert the CA signed.
    tls_allowed_client_sans: list[str] = []
    # token: {"<caller>": {"token_sha256": "<hex>", "scopes": [...]}} inline, or the same JSON in a file.
    auth_tokens: dict[str, CallerToken] = {}
    auth_tokens_file: Path | None = None

    # Executor service
    executor_metrics_port: int = 8002
    consumer_group: str = "automation-executor"
    session_timeout_ms: int = Field(default=10000, ge=1000)
    batch_max_messages: int = Field(default=500, ge=1)
    batch_wait_s: float = Field(default=0.05, gt=0)
    # Longest the broker may hold a fetch that found nothing. Apache Kafka answers a waiting fetch as soon
    # as data arrives, so there this only sets how often an idle consumer asks (raise it to 100-500 to
    # ask less); brokers that do not wake waiting fetches (Tansu, used by `make run`) add up to this much
    # latency to every message.
    fetch_wait_max_ms: int = Field(default=10, ge=1)
    executor_concurrency: int = Field(default=5, ge=1)
    # Most deliveries whose `sent` marker is not yet written: what one executor crash can send twice.
    # 0 means executor_concurrency (as if each lane wrote its marker right after its send); raising it
    # lets the markers of more sends share a Redis round trip (faster drains, more duplicates on a crash).
    max_unrecorded_sends: int = Field(default=0, ge=0)
    dedup_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)
    # A job's lease on its idempotency key while its batch is in hand; renewed every third of it by a
    # thread of its own (executor_service/lease_keeper.py), so a live worker never loses it however long
    # the batch takes, and a dead worker's keys free up within this time.
    dedup_lease_s: float = Field(default=15.0, gt=0)
    # SIGTERM: stop fetching and finish the batch in hand within this time (keep it below the pod's
    # terminationGracePeriodSeconds), then commit and leave the group; past it the process exits anyway.
    drain_grace_s: float = Field(default=25.0, gt=0)
    # Liveness (/healthz, executor_service/liveness.py): 503 once the consume loop made no progress (a loop
    # turn, a poll while paused by an outage, a finished send) for this long, so the kubelet restarts a stuck
    # executor. Keep it above the longest channel timeout in use (a send in flight reports when it ends).
    liveness_stall_s: float = Field(default=120.0, gt=0)
    # Fault injection, tests only: crash the executor at a named point (shared/failpoints.py).
    failpoint: str | None = None

    # Retries (JSON): the default policy, per-type overrides by type name, and the retry topic tiers
    retry_policy: RetryPolicy = RetryPolicy()
    retry_policies: dict[str, RetryPolicy] = {}
    retry_tiers_s: list[int] = Field(default=list(constants.RETRY_TIERS_S), min_length=1)

    # Scheduled sends: delay topics <jobs topic>.delay.<N>s (ascending tiers, seconds)
    delay_tiers_s: list[int] = Field(default=list(constants.DELAY_TIERS_S), min_length=1)
    # Pauses (PauseAutomations): each executor reads the pauses in force from the database this often
    # (no query per job); a due job a pause holds waits in the delay tier pause_recheck_s (one of
    # delay_tiers_s; else the longest tier below it) and is looked at again after it, so a resumed job
    # runs within about the sum of both.
    pause_refresh_s: float = Field(default=2.0, gt=0)
    pause_recheck_s: int = Field(default=4, gt=0)
    # The automation settings file (types, recipients, channels, templates, timing, senders);
    # default: the documented file shipped as shared/automations.toml.
    automations_file: Path | None = None
    # How long Redis keeps a booking's newest versions and cancellations; longer than the furthest
    # schedule (jobs pending longer than this can no longer be superseded or cancelled).
    booking_state_ttl_s: int = Field(default=90 * 24 * 3600, gt=0)

    # Retention: `automationctl prune` deletes EventLog rows finished longer ago than this, in batches.
    eventlog_retention_days: int = Field(default=30, gt=0)
    prune_batch_size: int = Field(default=1000, ge=1)
    # EventLog rows keep the full request as inputs; when true, the client's phone and e-mail and the
    # sitter's phone are stored masked (the job itself, delivered from Kafka, is unchanged).
    eventlog_redact_contacts: bool = False

    # Channels. Recipients whose settings say channel = "default" use default_channel.
    default_channel: str = Field(default="log", pattern=f"^({'|'.join(sorted(CHANNEL_NAMES))})$")
    outbox_path: Path | None = None  # log channel; default var_dir/outbox.jsonl
    webhook_url: SecretStr | None = None  # may carry a token (e.g. a Slack-style URL): a secret
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    sms_base_url: str = "https://api.twilio.com"  # a Twilio-compatible API
    sms_account_sid: str = ""
    sms_auth_token: SecretStr = SecretStr("")
    sms_timeout_s: float = Field(default=10.0, gt=0)
    smtp_host: str = ""  # required by the email channel (the executor does not start without it)
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _retention_agrees(self) -> Self:
        """Refuse topic retentions that could lose a job or run one twice (README.md, "Retention")."""
        retention_ms = self.jobs_topic_retention_ms
        if retention_ms > self.dedup_ttl_s * 1000:
            raise ValueError(
                f"AUTOMATION_JOBS_TOPIC_RETENTION_MS ({retention_ms}) exceeds AUTOMATION_DEDUP_TTL_S "
                f"({self.dedup_ttl_s} s = {self.dedup_ttl_s * 1000} ms): a message could be redelivered "
                "after its dedup marker expired and run again; lower the retention or raise the TTL"
            )
        longest_s = max([*self.delay_tiers_s, *self.retry_tiers_s])
        if retention_ms <= longest_s * 1000:
            raise ValueError(
                f"AUTOMATION_JOBS_TOPIC_RETENTION_MS ({retention_ms}) must exceed the longest retry or "
                f"delay tier ({longest_s} s = {longest_s * 1000} ms), or a waiting job could be deleted "
                "before it is due"
            )
        return self

    @model_validator(mode="after")
    def _auth_is_complete(self) -> Self:
        """Refuse an auth configuration that would not check what it claims to (shared/auth_settings.py)."""
        check_auth_settings(self)
        return self

    @classmethod
    def from_environment(cls) -> Settings:
        """Settings from the AUTOMATION_* variables and, when AUTOMATION_SECRETS_DIR names a directory (a
        mounted Kubernetes Secret), from its files: one per setting, named like the variable
        (``AUTOMATION_REDIS_URL``) or the field (``redis_url``). Environment variables win."""
        secrets_dir = os.environ.get("AUTOMATION_SECRETS_DIR")
        return cls(_secrets_dir=secrets_dir) if secrets_dir else cls()

    def kafka_security(self) -> dict[str, str]:
        """librdkafka settings for TLS and SASL to the brokers (empty for PLAINTEXT)."""
        config: dict[str, str] = {}
        if self.kafka_security_protocol != "PLAINTEXT":
            config["security.protocol"] = self.kafka_security_protocol.lower()
        files = {
            "ssl.ca.location": self.kafka_ssl_ca_file,
            "ssl.certificate.location": self.kafka_ssl_cert_file,
            "ssl.key.location": self.kafka_ssl_key_file,
        }
        config.update({k: str(v) for k, v in files.items() if v is not None})
        if self.kafka_security_protocol.startswith("SASL"):
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
            config["sasl.username"] = self.kafka_sasl_username or ""
            config["sasl.password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
            )
        return config

    def policy_for(self, automation_type: str) -> RetryPolicy:
        return self.retry_policies.get(automation_type, self.retry_policy)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.var_dir / 'automation.db'}"

    @property
    def outbox_file(self) -> Path:
        return self.outbox_path or self.var_dir / "outbox.jsonl"
