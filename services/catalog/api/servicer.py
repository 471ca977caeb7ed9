"""CatalogService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import Any

import grpc
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from services.catalog.api.convert import session_from_pb, session_to_pb
from services.catalog.service_layer import handlers
from services.catalog.service_layer.handlers import Clock, UowFactory


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, uow_factory: UowFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def CreateTrainingSession(
        self,
        request: catalog_pb2.CreateTrainingSessionRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> catalog_pb2.TrainingSession:
        session = session_from_pb(request.training_session)
        stored = await handlers.create_session(
            self._uow, session, request.request_id, self._clock()
        )
        return session_to_pb(stored)

    async def GetTrainingSession(
        self,
        request: catalog_pb2.GetTrainingSessionRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> catalog_pb2.TrainingSession:
        return session_to_pb(await handlers.get_session(self._uow, request.name))

    async def ListTrainingSessions(
        self,
        request: catalog_pb2.ListTrainingSessionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> catalog_pb2.ListTrainingSessionsResponse:
        page = await handlers.list_sessions(
            self._uow, request.page_size, request.page_token, request.include_past, self._clock()
        )
        return catalog_pb2.ListTrainingSessionsResponse(
            training_sessions=[session_to_pb(s) for s in page.sessions],
            next_page_token=page.next_page_token,
        )

    async def SearchTrainingSessions(
        self,
        request: catalog_pb2.SearchTrainingSessionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> catalog_pb2.SearchTrainingSessionsResponse:
        found = await handlers.search_sessions(
            self._uow, request.query, request.page_size, request.include_past, self._clock()
        )
        return catalog_pb2.SearchTrainingSessionsResponse(
            results=[
                catalog_pb2.SearchTrainingSessionsResponse.Result(
                    training_session=session_to_pb(s), relevance=r
                )
                for s, r in found
            ]
        )
