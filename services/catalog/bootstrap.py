"""The catalog's composition root: real adapters wired to the runtime's resources."""

from __future__ import annotations

import asyncio

from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from services.catalog.api.servicer import CatalogServicer
from services.catalog.service_layer.handlers import utc_now
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.grpc_server import GrpcServer
from services.common.outbox import run_relay
from services.common.runtime import Infrastructure, ServiceParts

SERVICE_NAME = "catalog"
SCHEMA = "catalog"


async def build(infra: Infrastructure) -> ServiceParts:
    """Servicer and background tasks of the catalog."""
    servicer = CatalogServicer(lambda: CatalogUnitOfWork(infra.pool), utc_now)

    def register(server: GrpcServer) -> None:
        server.add_service(
            catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
            lambda s: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, s),
        )

    async def outbox_relay(stop: asyncio.Event) -> None:
        await run_relay(infra.pool, infra.js, SCHEMA, stop)

    return ServiceParts(register=register, background=[outbox_relay])
