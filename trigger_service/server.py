"""Builds the gRPC server: AutomationService, standard health service, reflection (when enabled), caller
authentication (auth.py) and TLS (tls.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc
import redis
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine, text

from shared.automation_settings import load_automation_settings
from shared.booking_state import BookingStates
from shared.config import Settings
from shared.constants import DEPENDENCY_CHECK_TIMEOUT_S
from shared.db.engine import make_engine, make_session_factory
from shared.db.eventlog_writer import EventLogWriter
from shared.doorbell import Doorbell, wake_channel
from shared.kafka import JobProducer, producer_config
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from shared.redis_client import make_redis
from trigger_service.auth import auth_interceptor
from trigger_service.cancel import PendingCanceller
from trigger_service.dependencies import DependencyMonitor
from trigger_service.due_at import DueAtResolver
from trigger_service.enqueue import Enqueuer
from trigger_service.exposure import check_exposure, grpc_address
from trigger_service.idempotency import IdempotencyStore
from trigger_service.interceptors import MetricsInterceptor, TracingInterceptor
from trigger_service.limits import LimitsInterceptor
from trigger_service.pauses import PauseStore
from trigger_service.replay import Replayer
from trigger_service.runs import RunsReader
from trigger_service.servicer import AutomationServicer
from trigger_service.tls import server_credentials

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AutomationService"].full_name


@dataclass
class TriggerServer:
    """A built (not yet started) trigger: the gRPC server and what must be closed with it."""

    server: grpc.Server
    port: int
    health: health.HealthServicer
    producer: JobProducer
    servicer: AutomationServicer
    dependencies: DependencyMonitor

    def start(self) -> None:
        self.server.start()
        # "" and the service: this process serves (ARCHITECTURE.md, "Readiness"); dependencies have their
        # own entries (dependencies.py).
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        self.dependencies.start()

    def stop(self, grace_s: float) -> None:
        """Stop accepting calls, let calls in flight finish, then flush the producer."""
        self.health.enter_graceful_shutdown()
        self.dependencies.stop()
        self.server.stop(grace_s).wait()
        self.servicer.close()
        self.producer.close(timeout_s=max(grace_s, 1.0))


def create_server(settings: Settings, address: str | None = None) -> TriggerServer:
    """Build the server bound to ``address`` (default listen_host:grpc_port; port 0 picks a free one).

    Raises InsecureExposureError when ``auth_mode`` none would serve a non-loopback address without the
    explicit opt-in (exposure.py), SettingsError when the automation settings file is invalid,
    TokenConfigError / TlsConfigError when the callers' token file or the TLS files are (before anything
    is served)."""
    address = address or grpc_address(settings.listen_host, settings.grpc_port)
    check_exposure(settings, address.rsplit(":", 1)[0])
    # Auth first: nothing else (tracing, metrics, limits, the servicer) runs for a refused call.
    # Limits last: inside the metrics (a rate-limited call is counted) and the caller's name (auth).
    interceptors: list[grpc.ServerInterceptor] = [
        TracingInterceptor(),
        MetricsInterceptor(),
        LimitsInterceptor.from_settings(settings),
    ]
    if (auth := auth_interceptor(settings)) is not None:
        interceptors.insert(0, auth)
    credentials = server_credentials(settings)
    delivery_timeout_ms = int(settings.produce_delivery_timeout_s * 1000)
    producer = JobProducer(
        producer_config(
            settings.kafka_bootstrap_servers,
            delivery_timeout_ms=delivery_timeout_ms,
            **settings.kafka_security(),
        )
    )
    redis_client = make_redis(settings.redis_url.get_secret_value(), timeout_s=1.0)
    idempotency = IdempotencyStore(
        redis_client, lease_ms=delivery_timeout_ms + 5000, accepted_ttl_s=settings.idempotency_ttl_s
    )
    bookings = BookingStates(redis_client, ttl_s=settings.booking_state_ttl_s)
    due_times = DueAtResolver(load_automation_settings(settings.automations_file))
    engine = make_engine(settings.sqlalchemy_url)  # connects on first use
    sessions = make_session_factory(engine)
    doorbell = Doorbell(redis_client, wake_channel(settings.jobs_topic))
    servicer = AutomationServicer(
        Enqueuer(settings.jobs_topic, producer, idempotency, bookings, due_times, doorbell=doorbell),
        bookings,
        RunsReader(sessions),
        Replayer(sessions, EventLogWriter(engine), producer, settings.jobs_topic, doorbell),
        PendingCanceller(sessions),
        PauseStore(sessions),
        produce_timeout_s=settings.produce_timeout_s,
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_max_workers, thread_name_prefix="grpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.grpc_max_message_bytes),
            ("grpc.max_send_message_length", settings.grpc_max_message_bytes),
            # Never share the port: with SO_REUSEPORT (gRPC's default) a second trigger on this host
            # (another `make run`, an orphan of a killed one) would bind too and get part of the calls.
            ("grpc.so_reuseport", 0),
        ],
    )
    pb_grpc.add_AutomationServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    dependencies = _dependency_monitor(settings, redis_client, producer, engine, health_servicer)
    if settings.grpc_reflection:
        health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
        reflection.enable_server_reflection((SERVICE_NAME, health_name, reflection.SERVICE_NAME), server)
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:  # grpcio: "Failed to bind to address ..."
        raise ListenError(
            f"cannot listen on {address}: in use by another process, or not an address here"
        ) from exc
    log.info(
        "trigger auth",
        extra={
            "auth_mode": settings.auth_mode,
            "tls": credentials is not None,
            "reflection": settings.grpc_reflection,
        },
    )
    if settings.auth_mode.endswith("token") and credentials is None:
        log.warning(
            "bearer tokens are accepted over plaintext: set AUTOMATION_TLS_CERT_FILE or use a TLS mesh"
        )
    return TriggerServer(server, port, health_servicer, producer, servicer, dependencies)


class ListenError(RuntimeError):
    """The gRPC address cannot be bound (in use, or not an address of this host)."""


def _dependency_monitor(
    settings: Settings,
    redis_client: redis.Redis,
    producer: JobProducer,
    engine: Engine,
    health_servicer: health.HealthServicer,
) -> DependencyMonitor:
    """Background checks of what the trigger needs: Redis (claims, cancellations), Kafka (enqueue),
    the database (runs, dead letters, replays)."""

    def database() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], object]] = {
        "redis": redis_client.ping,
        "kafka": lambda: producer.check_topic(settings.jobs_topic, DEPENDENCY_CHECK_TIMEOUT_S),
        "database": database,
    }
    return DependencyMonitor(
        checks,
        interval_s=settings.dependency_check_interval_s,
        timeout_s=DEPENDENCY_CHECK_TIMEOUT_S,
        health_servicer=health_servicer,
    )
