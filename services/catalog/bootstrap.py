"""The catalog's composition root: real adapters wired to the runtime's resources."""

from __future__ import annotations

import functools

from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from services.catalog.adapters import events
from services.catalog.adapters.registrations import registration_handler
from services.catalog.api.servicer import CatalogServicer
from services.catalog.service_layer.handlers import Dependencies, utc_now
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.grpc_server import GrpcServer
from services.common.runtime import (
    Infrastructure,
    ServiceParts,
    consumer_task,
    outbox_relay_task,
)

SERVICE_NAME = "catalog"
SCHEMA = "catalog"


async def build(infra: Infrastructure) -> ServiceParts:
    """Servicer, outbox relay and seat-counting consumer of the catalog."""
    deps = Dependencies(
        uow=lambda: CatalogUnitOfWork(infra.pool),
        encode_changed=functools.partial(events.session_changed, topology=infra.topology),
        clock=utc_now,
    )
    servicer = CatalogServicer(deps)

    def register(server: GrpcServer) -> None:
        server.add_service(
            catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
            lambda s: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, s),
        )

    return ServiceParts(
        register=register,
        background=[
            outbox_relay_task(infra, SCHEMA),
            consumer_task(infra, infra.topology.catalog_registrations, registration_handler(deps)),
        ],
    )
