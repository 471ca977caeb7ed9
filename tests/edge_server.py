"""The HTTP edge served by uvicorn in the test's own process, on a free port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from services.edge.bootstrap import build
from services.edge.settings import EdgeSettings
from tests.helpers import Clients, free_port
from tests.waiting import wait_for


def edge_settings(c: Clients, signing_key: str, **overrides: object) -> EdgeSettings:
    """An edge in front of the services `c` talks to, verifying links signed as the
    personalizer signs them (keys derived from the token key)."""
    values: dict[str, object] = {
        "jwt_secret": signing_key,
        "http_port": free_port(),
        "catalog_address": c.endpoints["catalog"],
        "dispatcher_address": c.endpoints["dispatcher"],
        "shutdown_grace_seconds": 1.0,
        **overrides,
    }
    return EdgeSettings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_edge(settings: EdgeSettings) -> AsyncIterator[str]:
    """The edge's base URL while the block runs."""
    server = uvicorn.Server(
        uvicorn.Config(
            build(settings),
            host="127.0.0.1",
            port=settings.http_port,
            lifespan="on",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()  # it failed to start: say why
            raise AssertionError("the edge stopped before it started")
        return server.started

    try:
        await wait_for(started, "the edge listens", timeout=30, retry_on=())
        yield f"http://127.0.0.1:{settings.http_port}"
    finally:
        server.should_exit = True
        await task
