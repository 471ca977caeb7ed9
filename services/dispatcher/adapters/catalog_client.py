"""The catalog, asked over gRPC: a session as its calendar event should say it."""

from __future__ import annotations

import datetime as dt

import grpc
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from services.common.errors import InvalidArgument, NotFound
from services.dispatcher.domain.calendar import SessionEvent


def session_event(message: catalog_pb2.TrainingSession) -> SessionEvent:
    """The calendar event of a catalog session."""
    description = message.description
    if message.presenter:
        description = f"{description}\n\nPresenter: {message.presenter}".strip()
    return SessionEvent.of_session(
        training_session=message.name,
        title=message.title,
        description=description,
        start=message.start_time.ToDatetime(tzinfo=dt.UTC),
        duration=message.duration.ToTimedelta(),
        time_zone=message.time_zone,
        join_url=message.join_url,
        cancelled=message.state == catalog_pb2.SESSION_STATE_CANCELLED,
    )


class CatalogSessions:
    """Wraps the generated stub. The catalog's NOT_FOUND and INVALID_ARGUMENT become domain
    errors (an event naming a session the catalog does not know is refused, not retried);
    UNAVAILABLE and DEADLINE_EXCEEDED stay as they are: the catalog is away for now."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = catalog_pb2_grpc.CatalogServiceStub(channel)

    async def session_event(self, training_session: str) -> SessionEvent:
        try:
            message = await self._stub.GetTrainingSession(
                catalog_pb2.GetTrainingSessionRequest(name=training_session)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(exc.details() or f"{training_session} not found") from exc
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument.single("training_session", exc.details() or "") from exc
            raise
        return session_event(message)
