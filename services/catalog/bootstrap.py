"""The catalog's composition root: every port given to `bootstrap`, the real ones by `build`."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from services.catalog.adapters.events import event_registry
from services.catalog.adapters.unit_of_work import PostgresCatalogUnitOfWork
from services.catalog.api.servicer import CatalogServicer
from services.catalog.api.subscriptions import subscriptions
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.clock import Clock, utc_now
from services.common.grpc_server import GrpcServer
from services.common.runtime import (
    Infrastructure,
    ServiceParts,
    consumer_task,
    outbox_relay_task,
)

SERVICE_NAME = "catalog"
SCHEMA = "catalog"


def bootstrap(
    uow: Callable[[], CatalogUnitOfWork],
    clock: Clock = utc_now,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> Dependencies:
    return Dependencies(uow=uow, clock=clock, new_id=new_id)


async def build(infra: Infrastructure) -> ServiceParts:
    """Servicer, outbox relay and seat-counting consumer of the catalog."""
    registry = event_registry(infra.topology, utc_now)
    deps = bootstrap(uow=lambda: PostgresCatalogUnitOfWork(infra.pool, registry), clock=utc_now)
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
            *(
                consumer_task(infra, spec, handler)
                for spec, handler in subscriptions(deps, infra.topology)
            ),
        ],
    )
