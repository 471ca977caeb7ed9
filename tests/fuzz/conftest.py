"""The three services for fuzzing, on a database of their own.

Generated requests cancel sessions, approve batches and unsubscribe addresses: they run against
a freshly seeded database made for this module, so no other test sees what they changed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.catalog import bootstrap as catalog
from services.catalog.settings import CatalogSettings
from services.common.migrations import apply_all
from services.common.runtime import serve
from services.dispatcher import bootstrap as dispatcher
from services.dispatcher.settings import DispatcherSettings
from services.personalizer import bootstrap as personalizer
from services.personalizer.settings import PersonalizerSettings
from tests.helpers import Clients, clients, free_port, wait_until_serving
from tools import stack
from tools.seed import seed_all


@pytest.fixture(scope="module")
def fuzz_database_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"trainvite_fuzz_{uuid.uuid4().hex[:12]}"
    url = stack.create_database(postgres_admin_url, name)
    apply_all(url)
    asyncio.run(seed_all(url))
    yield url
    stack.drop_database(postgres_admin_url, name)


@pytest.fixture(scope="module")
async def fuzz_services(
    fuzz_database_url: str,
    nats_url: str,
    signing_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Clients]:
    """Catalog, personalizer and dispatcher serving for the whole module."""
    ports = {"catalog": free_port(), "personalizer": free_port(), "dispatcher": free_port()}
    common: dict[str, Any] = {
        "database_url": fuzz_database_url,
        "nats_url": nats_url,
        "event_namespace": f"f{uuid.uuid4().hex[:10]}",
        "jwt_secret": signing_key,
        "shutdown_grace_seconds": 2.0,
    }
    outbox: Path = tmp_path_factory.mktemp("fuzz-outbox")
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
                frequency_cap_days=0,
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
                outbox_dir=outbox,
                send_poll_seconds=0.1,
                **common,
            ),
            dispatcher.build,
            stop,
        ),
    ]
    tasks = [asyncio.create_task(r) for r in runs]
    c = clients({n: f"127.0.0.1:{p}" for n, p in ports.items()}, signing_key)
    try:
        await wait_until_serving(c, tasks)
        yield c
    finally:
        stop.set()
        await c.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
