"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg import sql
from trainvite.catalog.v1 import catalog_pb2_grpc
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2_grpc
from trainvite.personalizer.v1 import personalizer_pb2, personalizer_pb2_grpc

from services.common.auth import CallerKind, issue_token
from services.common.migrations import apply_all
from services.platform.seed import CSM_EMAIL, OTHER_CSM_EMAIL
from tests.waiting import NotYet, wait_for
from tools import stack
from tools.seed import seed_all

CATALOG_EDITOR_EMAIL = "casey.morgan@trainvite.dev"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class DatabaseTemplate:
    """A database migrated and seeded once, copied for whoever needs a database of its own.

    Migrating and seeding take seconds; `CREATE DATABASE ... TEMPLATE` copies the result in a
    fraction of one. Nobody may connect to the template: PostgreSQL refuses to copy a database
    that has sessions.
    """

    admin_url: str
    name: str

    @classmethod
    def create(cls, admin_url: str, prefix: str = "trainvite_template") -> DatabaseTemplate:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        url = stack.create_database(admin_url, name)
        try:
            apply_all(url)
            asyncio.run(seed_all(url))
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                        sql.Identifier(name)
                    )
                )
                # A session that has just closed may still be on its way out.
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE datname = %s",
                    (name,),
                )
        except BaseException:
            stack.drop_database(admin_url, name)
            raise
        return cls(admin_url, name)

    @contextlib.contextmanager
    def copy(self, prefix: str = "trainvite_test") -> Iterator[str]:
        """A copy of its own, dropped afterwards with whoever is still connected to it."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.name)
                )
            )
        try:
            yield stack.with_database(self.admin_url, name)
        finally:
            stack.drop_database(self.admin_url, name)

    def drop(self) -> None:
        stack.drop_database(self.admin_url, self.name)


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Clients:
    """Stubs for the three services, and the tokens of the demo's callers."""

    catalog: catalog_pb2_grpc.CatalogServiceAsyncStub
    personalizer: personalizer_pb2_grpc.PersonalizerServiceAsyncStub
    dispatcher: dispatcher_pb2_grpc.DispatcherServiceAsyncStub
    channels: list[grpc.aio.Channel]
    csm: tuple[tuple[str, str]]
    other_csm: tuple[tuple[str, str]]
    service: tuple[tuple[str, str]]
    editor: tuple[tuple[str, str]]
    gateway: tuple[tuple[str, str]]
    # Where each service listens, by name, for a client of a test's own (the HTTP edge).
    endpoints: dict[str, str]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def clients(
    endpoints: dict[str, str], key: str, channel_options: list[tuple[str, int]] | None = None
) -> Clients:
    channels = [
        grpc.aio.insecure_channel(endpoints[n], options=channel_options)
        for n in ("catalog", "personalizer", "dispatcher")
    ]
    return Clients(
        catalog=catalog_pb2_grpc.CatalogServiceStub(channels[0]),
        personalizer=personalizer_pb2_grpc.PersonalizerServiceStub(channels[1]),
        dispatcher=dispatcher_pb2_grpc.DispatcherServiceStub(channels[2]),
        channels=channels,
        csm=bearer(issue_token(key, CSM_EMAIL, CallerKind.CSM)),
        other_csm=bearer(issue_token(key, OTHER_CSM_EMAIL, CallerKind.CSM)),
        service=bearer(issue_token(key, "personalizer", CallerKind.SERVICE)),
        editor=bearer(issue_token(key, CATALOG_EDITOR_EMAIL, CallerKind.CATALOG_EDITOR)),
        gateway=bearer(issue_token(key, "gateway", CallerKind.GATEWAY)),
        endpoints=dict(endpoints),
    )


async def wait_until_serving(
    c: Clients, tasks: list[asyncio.Task[None]], seconds: float = 90.0
) -> None:
    """Wait until every service answers SERVING; fail at once if one of `tasks` died.

    The bound is generous: on a loaded two-core machine a service's imports alone take seconds.
    """
    for channel in c.channels:
        stub = health_pb2_grpc.HealthStub(channel)

        async def serving(stub: health_pb2_grpc.HealthAsyncStub = stub) -> bool:
            for t in tasks:
                if t.done():
                    t.result()  # a service that failed to start fails the test here
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        await wait_for(
            serving,
            "every service answers SERVING",
            timeout=seconds,
            retry_on=(grpc.aio.AioRpcError,),  # not listening yet
        )


async def batch_when(
    c: Clients,
    batch: str,
    done: Callable[[personalizer_pb2.InvitationDraft], bool],
    description: str,
    metadata: tuple[tuple[str, str]] | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - the wait's bound, reported when it runs out
) -> personalizer_pb2.InvitationBatch:
    """The batch once every one of its drafts is `done` (a batch without drafts never is);
    fails naming `description` and each draft's delivery state if not within `timeout`."""

    async def current() -> personalizer_pb2.InvitationBatch | NotYet:
        found = await c.personalizer.GetInvitationBatch(
            personalizer_pb2.GetInvitationBatchRequest(name=batch), metadata=metadata or c.csm
        )
        if found.drafts and all(done(d) for d in found.drafts):
            return found
        return NotYet(
            [
                (
                    d.recipient.email,
                    common_pb2.DeliveryState.Name(d.delivery_state),
                    d.delivery_detail,
                )
                for d in found.drafts
            ]
        )

    return await wait_for(current, description, timeout=timeout)
