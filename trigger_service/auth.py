"""Caller authentication of the trigger's gRPC API (README.md, "Security: callers").

``AuthInterceptor`` runs first, before any other interceptor and before the servicer. Depending on
``AUTOMATION_AUTH_MODE`` it checks a bearer token and its scope (from the metadata alone, before the
request is even parsed), the client certificate's SANs against the allow-list (the TLS handshake has
already verified the certificate itself: tls.py), or both.
A refused call ends with UNAUTHENTICATED (no, malformed or unknown credentials; a certificate outside
the allow-list) or PERMISSION_DENIED (a known caller without the method's scope), and is counted in
``automation_auth_failures_total{reason}``. An admitted call runs with its caller's name in
``current_caller()`` and in its log lines (``caller``). The health service is open to everyone.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn, cast

import grpc

from shared.config import Settings
from shared.tracing import log_context
from trigger_service import metrics
from trigger_service.interceptors import Continuation
from trigger_service.tokens import METHOD_SCOPES, CallerTokens

log = logging.getLogger(__name__)

# Methods anyone may call: the standard health service (probes).
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)
_SERVICE_PREFIX = next(iter(METHOD_SCOPES)).rsplit("/", 1)[0] + "/"
REASONS = ("missing", "invalid", "scope", "san")

AUTH_FAILURES = metrics.AUTH_FAILURES
for _reason in REASONS:  # every reason exported from the start, at 0
    AUTH_FAILURES.labels(_reason)

_caller: ContextVar[str | None] = ContextVar("automation_caller", default=None)


def current_caller() -> str | None:
    """The authenticated caller of the call being handled (its token's caller name, or with mtls alone
    the certificate's matching SAN); None outside a call or when ``AUTOMATION_AUTH_MODE=none``."""
    return _caller.get()


class Refused(Exception):
    """A call the interceptor refuses: the status code, a closed-set reason, the detail for the caller."""

    def __init__(self, code: grpc.StatusCode, reason: str, details: str) -> None:
        super().__init__(details)
        self.code, self.reason, self.details = code, reason, details


def _unauthenticated(reason: str, details: str) -> Refused:
    return Refused(grpc.StatusCode.UNAUTHENTICATED, reason, details)


class AuthInterceptor(grpc.ServerInterceptor):
    """Admits a call only with the credentials its mode requires (see the module docstring)."""

    def __init__(
        self, tokens: CallerTokens | None, *, check_certificates: bool, allowed_sans: Iterable[str]
    ) -> None:
        self._tokens = tokens
        self._check_certificates = check_certificates
        self._allowed_sans = frozenset(allowed_sans)

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        try:  # the metadata alone decides: refuse before the request is even parsed
            token_caller = self.check_token(method, tuple(handler_call_details.invocation_metadata or ()))
        except Refused as refusal:
            return _refusing(handler, functools.partial(self._refuse, method, refusal))

        def admit(context: grpc.ServicerContext) -> str | None:
            try:
                cert_caller = self.check_certificate(_auth_properties(context))
            except Refused as refusal:
                self._refuse(method, refusal, context)
            return token_caller or cert_caller

        return _guarded(handler, admit)

    def check_token(self, method: str, metadata: Sequence[Any]) -> str | None:
        """The bearer token's caller (None when tokens are not checked), or raise Refused."""
        needed = METHOD_SCOPES.get(method)
        if needed is None and method.startswith(_SERVICE_PREFIX):
            raise Refused(grpc.StatusCode.PERMISSION_DENIED, "scope", f"no scope grants {method}")
        if self._tokens is None:
            return None
        found = self._tokens.identify(_bearer_token(metadata))
        if found is None:
            raise _unauthenticated("invalid", "unknown bearer token")
        if needed is not None and needed not in found.scopes:
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                "scope",
                f"caller {found.name!r} lacks scope {needed!r}, needed by {method.rsplit('/', 1)[-1]}",
            )
        return found.name

    def check_certificate(self, auth_context: Mapping[str, Sequence[bytes]]) -> str | None:
        """The client certificate's identity (None when certificates are not checked), or raise Refused."""
        return self._certificate_identity(auth_context) if self._check_certificates else None

    @staticmethod
    def _refuse(method: str, refusal: Refused, context: grpc.ServicerContext) -> NoReturn:
        AUTH_FAILURES.labels(refusal.reason).inc()
        log.warning(
            "call refused", extra={"method": method, "reason": refusal.reason, "peer": context.peer()}
        )
        context.abort(refusal.code, refusal.details)
        raise refusal  # abort() has raised already

    def _certificate_identity(self, auth_context: Mapping[str, Sequence[bytes]]) -> str:
        """The client certificate's matching SAN (or, without an allow-list, its SPIFFE id, first SAN
        or common name); refuses a certificate with no SAN in the allow-list."""
        sans = [
            value.decode(errors="replace") for value in auth_context.get("x509_subject_alternative_name", ())
        ]
        if self._allowed_sans:
            for san in sans:
                if san in self._allowed_sans:
                    return san
            raise _unauthenticated(
                "san", "client certificate not allowed: none of its SANs is in the allow-list"
            )
        names = [
            *auth_context.get("peer_spiffe_id", ()),
            *auth_context.get("x509_subject_alternative_name", ()),
        ]
        names += auth_context.get("x509_common_name", ())
        if not names:  # cannot happen behind require_client_auth; refuse rather than admit anonymously
            raise _unauthenticated("missing", "no client certificate")
        return names[0].decode(errors="replace")


def _auth_properties(context: grpc.ServicerContext) -> Mapping[str, Sequence[bytes]]:
    """The call's TLS auth properties: each name maps to a list of values (grpc's documented type;
    types-grpcio declares one bytes value per name)."""
    return cast(Mapping[str, Sequence[bytes]], context.auth_context())


def _bearer_token(metadata: Sequence[Any]) -> str:
    """The token of the one ``authorization: Bearer <token>`` metadata entry, or raise Refused."""
    values = [value for key, value in metadata if key == "authorization"]
    if not values:
        raise _unauthenticated(
            "missing", "missing credentials: send metadata 'authorization: Bearer <token>'"
        )
    scheme, _, token = values[0].partition(" ") if isinstance(values[0], str) else ("", "", "")
    if len(values) > 1 or scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("invalid", "malformed authorization metadata: expected 'Bearer <token>'")
    return token.strip()


def _refusing(
    handler: grpc.RpcMethodHandler[Any, Any], refuse: Callable[[grpc.ServicerContext], NoReturn]
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of ``handler``'s kind that only ``refuse``s: the request is neither parsed nor read."""

    def behavior(_request: Any, context: grpc.ServicerContext) -> NoReturn:
        refuse(context)

    serializer = {"response_serializer": handler.response_serializer}
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(behavior, **serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(behavior, **serializer)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(behavior, **serializer)
    return grpc.stream_stream_rpc_method_handler(behavior, **serializer)


def _guarded(
    handler: grpc.RpcMethodHandler[Any, Any], admit: Callable[[grpc.ServicerContext], str | None]
) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with ``admit`` run first (it aborts the call or names the caller), of the same kind."""
    serde = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }

    def unary_response(inner: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            token = _caller.set(admit(context))
            try:
                with log_context(caller=_caller.get()):
                    return inner(request, context)
            finally:
                _caller.reset(token)

        return call

    def stream_response(inner: Callable[[Any, grpc.ServicerContext], Iterator[Any]]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            token = _caller.set(admit(context))
            try:
                with log_context(caller=_caller.get()):
                    yield from inner(request, context)
            finally:
                _caller.reset(token)

        return call

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary_response(handler.unary_unary), **serde)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream_response(handler.unary_stream), **serde)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary_response(handler.stream_unary), **serde)
    if handler.stream_stream is None:
        raise ValueError("an RPC method handler without a behaviour")
    return grpc.stream_stream_rpc_method_handler(stream_response(handler.stream_stream), **serde)


def auth_interceptor(settings: Settings) -> AuthInterceptor | None:
    """The interceptor ``settings.auth_mode`` asks for (None for ``none``). Reads the token file now, so
    a bad one stops the start (TokenConfigError)."""
    if settings.auth_mode == "none":
        return None
    tokens = CallerTokens.from_settings(settings) if settings.auth_mode.endswith("token") else None
    return AuthInterceptor(
        tokens,
        check_certificates=settings.auth_mode.startswith("mtls"),
        allowed_sans=settings.tls_allowed_client_sans,
    )
