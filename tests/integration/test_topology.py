"""Streams declared by services that start at the same moment."""

from __future__ import annotations

import asyncio

import nats
import pytest

from services.common.messaging.jetstream import declare_streams
from services.common.messaging.topology import Topology

pytestmark = pytest.mark.integration


async def test_services_starting_together_all_declare_the_streams(
    nats_url: str, namespace: str
) -> None:
    connections = [await nats.connect(nats_url) for _ in range(3)]
    js = connections[0].jetstream()
    try:
        # The race between one service's look and another's add is narrow (about one start
        # in five lost it): many fresh namespaces make sure it is run into.
        for round_ in range(20):
            topology = Topology(f"{namespace}r{round_}")
            await asyncio.gather(*(declare_streams(nc.jetstream(), topology) for nc in connections))
            for spec in topology.streams():
                info = await js.stream_info(spec.name)
                assert info.config.subjects == spec.subjects
                await js.delete_stream(spec.name)
    finally:
        for nc in connections:
            await nc.close()
