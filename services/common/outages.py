"""Telling a dependency that is away from a bug.

PostgreSQL restarting, refusing connections or out of connection slots, a pool that cannot hand
out a connection in time, NATS between servers: the same call succeeds once the dependency is
back, so callers are told UNAVAILABLE (and retry), background work waits and tries again, and
nothing is reported as a fault of the request or of the code.
"""

from __future__ import annotations

import logging

import asyncpg
import grpc
import nats.errors
import nats.js.errors

# Connection lost or refused (class 08), the server shutting down, starting up or cancelling
# (class 57), out of connections, memory or disk (class 53).
_POSTGRES_AWAY = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)

_NATS_AWAY = (
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
)

# What the services' own gRPC clients see when a peer service is away.
_PEER_AWAY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def is_dependency_unavailable(exc: BaseException) -> bool:
    """True when `exc` says a dependency (database, NATS, a peer service) is away for now."""
    if isinstance(exc, (*_POSTGRES_AWAY, *_NATS_AWAY)):
        return True
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # A connection that broke in the middle of a call: its state machine is left behind
        # ("cannot switch to state ..."), seen when PostgreSQL restarts under load.
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        # asyncpg's own errors also cover misuse; only a closed connection is an outage.
        return "closed" in str(exc) or "connection" in str(exc).lower()
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in _PEER_AWAY
    # Connection refused or reset, a host that cannot be resolved, a connect or acquire that
    # timed out (nats-py's TimeoutError is asyncio's too).
    return isinstance(exc, OSError | TimeoutError)


def log_failure(log: logging.Logger, message: str, exc: BaseException, **extra: object) -> None:
    """A dependency away is a warning without a traceback (it is expected and waited out);
    anything else is an error with one."""
    if is_dependency_unavailable(exc):
        log.warning(message, extra={**extra, "error": f"{type(exc).__name__}: {exc}"})
    else:
        log.error(message, exc_info=exc, extra=extra)
