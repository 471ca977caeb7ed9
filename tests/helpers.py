"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from trainvite.catalog.v1 import catalog_pb2_grpc
from trainvite.dispatcher.v1 import dispatcher_pb2_grpc
from trainvite.personalizer.v1 import personalizer_pb2_grpc

from services.common.auth import CallerKind, issue_token
from services.platform.seed import CSM_EMAIL, OTHER_CSM_EMAIL

CATALOG_EDITOR_EMAIL = "casey.morgan@trainvite.dev"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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
    )


async def wait_until_serving(
    c: Clients, tasks: list[asyncio.Task[None]], seconds: float = 90.0
) -> None:
    """Wait until every service answers SERVING; fail early if one of `tasks` died.

    The bound is generous: on a loaded two-core machine a service's imports alone take seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    for channel in c.channels:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            for t in tasks:
                if t.done():
                    t.result()  # a service that failed to start fails the test here
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.aio.AioRpcError:
                pass  # not listening yet
            if loop.time() > deadline:
                raise TimeoutError(f"a service did not become SERVING within {seconds:.0f} s")
            await asyncio.sleep(0.05)
