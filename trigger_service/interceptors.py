"""Server interceptors: cross-cutting concerns kept out of the servicer."""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any, TypeAlias

import grpc

from shared import tracing
from shared.constants import HEADER_TRACEPARENT
from trigger_service import metrics

Behavior = Callable[[Any, grpc.ServicerContext], Any]
# a string: grpc.RpcMethodHandler is generic only in the type stubs
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None]"


class UnaryInterceptor(grpc.ServerInterceptor):
    """Wraps the behaviour of unary-unary methods (AutomationService has no other kind); other kinds, and
    the methods ``wrap`` declines, pass through untouched."""

    @abc.abstractmethod
    def wrap(self, details: grpc.HandlerCallDetails, inner: Behavior) -> Behavior | None:
        """What runs instead of ``inner`` for the method of ``details``, or None to leave it as it is."""

    def deserializer(self, deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
        """The request deserializer of a wrapped method: the method's own unless overridden."""
        return deserialize

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = self.wrap(handler_call_details, handler.unary_unary)
        if wrapped is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=self.deserializer(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )


class MetricsInterceptor(UnaryInterceptor):
    """Counts every unary call by method and final status code, and times it."""

    def wrap(self, details: grpc.HandlerCallDetails, inner: Behavior) -> Behavior:
        method = details.method.rsplit("/", 1)[-1]

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

        return observed


def _code_set(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """The status code the handler set (or aborted with), if any."""
    # ServicerContext.code() exists since grpc 1.38; types-grpcio's stub does not declare it
    return context.code()  # type: ignore[attr-defined]


class TracingInterceptor(UnaryInterceptor):
    """Runs every unary call in the caller's W3C trace (``traceparent`` metadata, else a new trace):
    the jobs it enqueues carry it to Kafka, and its log lines carry the trace id."""

    def wrap(self, details: grpc.HandlerCallDetails, inner: Behavior) -> Behavior:
        sent = dict(details.invocation_metadata or ()).get(HEADER_TRACEPARENT)

        def traced_call(request: Any, context: grpc.ServicerContext) -> Any:
            valid = sent if isinstance(sent, str) and tracing.parse(sent) is not None else None
            with tracing.traced(valid or tracing.new_traceparent()):
                return inner(request, context)

        return traced_call
