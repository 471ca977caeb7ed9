"""Background work that loses a dependency starts again; a bug still stops the service."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import grpc
import nats.errors
import pytest

from services.common import runtime
from services.common.outages import is_dependency_unavailable, log_failure


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "refused"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"),
        asyncpg.exceptions.TooManyConnectionsError("too many"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        # Seen releasing a connection that broke mid-call while PostgreSQL restarted.
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        nats.errors.NoServersError(),
        nats.errors.ConnectionClosedError(),
    ],
)
def test_outages_are_told_from_bugs(exc: BaseException) -> None:
    assert is_dependency_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad"),
        KeyError("x"),
        asyncpg.exceptions.CharacterNotInRepertoireError("NUL"),
        asyncpg.exceptions.InterfaceError("cannot perform operation: another is in progress"),
        grpc.aio.AioRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata()
        ),
    ],
)
def test_bugs_are_not_outages(exc: BaseException) -> None:
    assert not is_dependency_unavailable(exc)


async def test_a_task_that_loses_a_dependency_starts_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "RESTART_DELAY_SECONDS", 0.01)
    runs = 0

    async def relay(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ConnectionRefusedError(111, "refused")

    await runtime.restarted_on_outage(relay)(asyncio.Event())
    assert runs == 3


async def test_a_task_that_fails_otherwise_still_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "RESTART_DELAY_SECONDS", 0.01)

    async def broken(stop: asyncio.Event) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await runtime.restarted_on_outage(broken)(asyncio.Event())


async def test_a_task_waiting_to_start_again_ends_when_the_service_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "RESTART_DELAY_SECONDS", 30)
    stop = asyncio.Event()

    async def away(stop: asyncio.Event) -> None:
        raise nats.errors.NoServersError()

    supervised = asyncio.ensure_future(runtime.restarted_on_outage(away)(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(supervised, 2)


def test_an_outage_is_logged_as_a_wait_and_a_bug_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("test.outages")
    with caplog.at_level(logging.WARNING, logger="test.outages"):
        log_failure(log, "relay failed", ConnectionRefusedError(111, "refused"), durable="d")
        log_failure(log, "relay failed", KeyError("draft"), durable="d")
    waited, failed = caplog.records
    assert (waited.levelno, waited.exc_info) == (logging.WARNING, None)
    assert "ConnectionRefusedError" in waited.__dict__["error"]
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is not None and failed.exc_info[0] is KeyError
