"""The grpc.aio server of every service: auth, error mapping, health, reflection, graceful stop."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from services.common import errors
from services.common.auth import (
    CallerKind,
    ExpiredToken,
    InvalidToken,
    set_current_principal,
    verify_token,
)
from services.common.authorization import allows
from services.common.outages import is_dependency_unavailable, log_failure
from services.common.validation import Limits, request_violations

_log = logging.getLogger(__name__)

# Methods anyone may call without a token: probes and tooling.
PUBLIC_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

# grpc's own types for interceptors are loose (RpcMethodHandler is generic over anything), so
# handlers are typed as Any here, at the one place that touches them.
Context = grpc.aio.ServicerContext[Any, Any]
Behavior = Callable[[Any, Context], Awaitable[Any]]
Handler = Any
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Handler]]


def _wrap_unary(handler: Handler, behavior: Behavior) -> Handler:
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _bearer_token(details: grpc.HandlerCallDetails) -> str | None:
    for key, value in details.invocation_metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            # The scheme is case-insensitive (RFC 7235); an empty token is no token.
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Every method but health and reflection needs a valid bearer token, and the caller's kind
    must be one the authorization policy names for the method; a method the policy does not
    name is denied to every caller (fails closed).

    A refused caller is told only "missing", "expired" or "invalid": what exactly failed goes to
    the log, never to the caller, so a forger learns nothing about the checks.
    """

    def __init__(
        self, signing_key: str, allowed: Callable[[str, CallerKind], bool] = allows
    ) -> None:
        self._key = signing_key
        self._allowed = allowed

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_METHOD_PREFIXES):
            return handler
        token = _bearer_token(handler_call_details)
        inner = handler.unary_unary
        method_name = method.rsplit("/", 1)[-1]

        async def authorized(request: Any, context: Context) -> Any:
            if token is None:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token")
            try:
                principal = verify_token(self._key, token)
            except ExpiredToken:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "expired bearer token")
            except InvalidToken as exc:
                _log.info("token refused", extra={"method": method, "reason": str(exc)})
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")
            if not self._allowed(method, principal.kind):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"a {principal.kind.value} caller may not call {method_name}",
                )
            if inner is None:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, "only unary methods are served")
            set_current_principal(principal)
            return await inner(request, context)

        return _wrap_unary(handler, authorized)


_STATUS_OF: list[tuple[type[errors.DomainError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Aborted, grpc.StatusCode.ABORTED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
]


def status_for(exc: errors.DomainError) -> grpc.Status:
    """The gRPC status for a domain error; bad fields travel as google.rpc.BadRequest, what
    stands in the way of an operation as google.rpc.PreconditionFailure."""
    if isinstance(exc, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in exc.violations
            ]
        )
        return _status(code_pb2.INVALID_ARGUMENT, str(exc), bad_request)
    if isinstance(exc, errors.FailedPrecondition) and exc.violations:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=v.kind, subject=v.subject, description=v.description
                )
                for v in exc.violations
            ]
        )
        return _status(code_pb2.FAILED_PRECONDITION, str(exc), failure)
    code = next(
        (c for cls, c in _STATUS_OF if isinstance(exc, cls)), grpc.StatusCode.FAILED_PRECONDITION
    )
    return _status(code.value[0], str(exc))


def _status(code: int, message: str, detail: Message | None = None) -> grpc.Status:
    details = []
    if detail is not None:
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code, message=message, details=details)
    )
    return status


UNAVAILABLE_MESSAGE = "a service this call depends on is unavailable; retry later"
INTERNAL_MESSAGE = "internal error"


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """Domain errors become status codes; every call is logged with its outcome and duration.

    A dependency that is away (PostgreSQL, NATS, a peer service) is UNAVAILABLE, so that the
    caller retries; anything else that escapes a handler is a bug: logged with its traceback and
    answered INTERNAL with no detail, since exception texts name tables, values and code.
    """

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method

        async def mapped(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            outcome = "OK"
            try:
                return await inner(request, context)
            except errors.DomainError as exc:
                status = status_for(exc)
                outcome = status.code.name
                await context.abort_with_status(status)
            except grpc.aio.AbortError:
                code = context.code()
                outcome = code.name if isinstance(code, grpc.StatusCode) else "ABORTED"
                raise
            except Exception as exc:
                log_failure(_log, "call failed", exc, method=method)
                if is_dependency_unavailable(exc):
                    outcome = "UNAVAILABLE"
                    await context.abort(grpc.StatusCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)
                outcome = "INTERNAL"
                await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)
            finally:
                _log.info(
                    "rpc",
                    extra={
                        "method": method,
                        "outcome": outcome,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )

        return _wrap_unary(handler, mapped)


class RequestValidationInterceptor(grpc.aio.ServerInterceptor):
    """Refuses, before any handler runs, a request with a value no field may hold (see
    `services.common.validation`), naming each such field."""

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits or Limits()

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        limits = self._limits

        async def validated(request: Any, context: Context) -> Any:
            violations = request_violations(request, limits)
            if violations:
                raise errors.InvalidArgument(violations)
            return await inner(request, context)

        return _wrap_unary(handler, validated)


Registration = Callable[[grpc.aio.Server], None]

# The largest request a service takes: a 5 MiB report and the rest of its message.
MAX_RECEIVE_BYTES = 6 * 1024 * 1024


class GrpcServer:
    """A grpc.aio server with our interceptors, standard health and reflection."""

    def __init__(self, signing_key: str, listen_address: str) -> None:
        self.health = health.aio.HealthServicer()
        self._server = grpc.aio.server(
            interceptors=[
                ErrorMappingInterceptor(),
                AuthInterceptor(signing_key),
                RequestValidationInterceptor(),
            ],
            # An attendance report may be 5 MiB (ImportAttendanceReport); gRPC's default is 4.
            options=[("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.port = self._server.add_insecure_port(listen_address)
        self._service_names: list[str] = []

    def add_service(self, full_name: str, register: Registration) -> None:
        """Register a servicer (with its generated add_*_to_server) under its full name."""
        register(self._server)
        self._service_names.append(full_name)

    async def start(self) -> None:
        """Start serving and report SERVING for each service and for the server as a whole."""
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        await self._server.start()
        for name in ["", *self._service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def set_serving(self, serving: bool) -> None:
        """SERVING or NOT_SERVING for each service and for the server as a whole (ignored once
        shutting down, which stays NOT_SERVING)."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *self._service_names]:
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """NOT_SERVING first so balancers stop sending, then let in-flight calls finish."""
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
