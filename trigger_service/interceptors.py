"""Server interceptors: cross-cutting concerns kept out of the servicer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from shared import tracing
from shared.constants import HEADER_TRACEPARENT
from trigger_service import metrics


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts every unary call by method and final status code, and times it."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary

        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                response = inner(request, context)
                code = _code_set(context) or grpc.StatusCode.OK
                return response
            except Exception:
                code = _code_set(context) or grpc.StatusCode.UNKNOWN
                raise
            finally:
                metrics.GRPC_REQUESTS.labels(method, code.name).inc()
                metrics.GRPC_DURATION.labels(method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _code_set(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """The status code the handler set (or aborted with), if any."""
    # ServicerContext.code() exists since grpc 1.38; types-grpcio's stub does not declare it
    return context.code()  # type: ignore[attr-defined]


class TracingInterceptor(grpc.ServerInterceptor):
    """Runs every unary call in the caller's W3C trace (``traceparent`` metadata, else a new trace):
    the jobs it enqueues carry it to Kafka, and its log lines carry the trace id."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        sent = dict(handler_call_details.invocation_metadata or ()).get(HEADER_TRACEPARENT)
        inner = handler.unary_unary

        def traced_call(request: Any, context: grpc.ServicerContext) -> Any:
            valid = sent if isinstance(sent, str) and tracing.parse(sent) is not None else None
            with tracing.traced(valid or tracing.new_traceparent()):
                return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            traced_call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
