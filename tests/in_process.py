"""The three services in the test's own process, on real PostgreSQL and NATS, over real gRPC."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from services.catalog import bootstrap as catalog
from services.catalog.settings import CatalogSettings
from services.common.runtime import serve
from services.dispatcher import bootstrap as dispatcher
from services.dispatcher.settings import DispatcherSettings
from services.personalizer import bootstrap as personalizer
from services.personalizer.settings import PersonalizerSettings
from tests.helpers import Clients, clients, free_port, wait_until_serving


@contextlib.asynccontextmanager
async def running_services(
    database_url: str,
    nats_url: str,
    namespace: str,
    signing_key: str,
    outbox_dir: Path,
    personalizer_overrides: dict[str, Any] | None = None,
    dispatcher_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Clients]:
    """Catalog, personalizer and dispatcher serving on free ports until the block ends.

    A service that stopped on an error fails the block.
    """
    ports = {"catalog": free_port(), "personalizer": free_port(), "dispatcher": free_port()}
    common: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "event_namespace": namespace,
        "jwt_secret": signing_key,
        "shutdown_grace_seconds": 2.0,
    }
    stop = asyncio.Event()
    runs = [
        serve(
            "catalog",
            catalog.SCHEMA,
            CatalogSettings(grpc_port=ports["catalog"], **common),
            catalog.build,
            stop,
        ),
        serve(
            "personalizer",
            personalizer.SCHEMA,
            PersonalizerSettings(
                grpc_port=ports["personalizer"],
                catalog_address=f"127.0.0.1:{ports['catalog']}",
                **(personalizer_overrides or {}),
                **common,
            ),
            personalizer.build,
            stop,
        ),
        serve(
            "dispatcher",
            dispatcher.SCHEMA,
            DispatcherSettings(
                grpc_port=ports["dispatcher"],
                outbox_dir=outbox_dir,
                send_poll_seconds=0.1,
                **(dispatcher_overrides or {}),
                **common,
            ),
            dispatcher.build,
            stop,
        ),
    ]
    tasks = [asyncio.create_task(r) for r in runs]
    c = clients({name: f"127.0.0.1:{port}" for name, port in ports.items()}, signing_key)
    try:
        await wait_until_serving(c, tasks)
        yield c
    finally:
        stop.set()
        await c.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
