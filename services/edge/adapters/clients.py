"""The catalog and the dispatcher over gRPC, their answers as the edge's ports take them."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import grpc
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from trainvite.dispatcher.v1 import dispatcher_pb2, dispatcher_pb2_grpc

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.edge.service_layer.ports import (
    Registration,
    RegistrationState,
    ServiceUnavailable,
    Session,
    SessionState,
)

_SESSION_STATES = {
    catalog_pb2.SESSION_STATE_SCHEDULED: SessionState.SCHEDULED,
    catalog_pb2.SESSION_STATE_CANCELLED: SessionState.CANCELLED,
    catalog_pb2.SESSION_STATE_COMPLETED: SessionState.COMPLETED,
}
_REGISTRATION_STATES = {
    catalog_pb2.REGISTRATION_STATE_REGISTERED: RegistrationState.REGISTERED,
    catalog_pb2.REGISTRATION_STATE_WAITLISTED: RegistrationState.WAITLISTED,
    catalog_pb2.REGISTRATION_STATE_CANCELLED: RegistrationState.CANCELLED,
    catalog_pb2.REGISTRATION_STATE_ATTENDED: RegistrationState.ATTENDED,
    catalog_pb2.REGISTRATION_STATE_NO_SHOW: RegistrationState.NO_SHOW,
}
# Not there for now: the person is asked to try again, nothing is assumed.
_AWAY = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@contextlib.contextmanager
def _answers(field: str) -> Iterator[None]:
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        code, details = exc.code(), exc.details() or ""
        if code in _AWAY:
            raise ServiceUnavailable(f"{code.name}: {details}") from exc
        if code == grpc.StatusCode.NOT_FOUND:
            raise NotFound(details or "not found") from exc
        if code == grpc.StatusCode.FAILED_PRECONDITION:
            raise FailedPrecondition(details) from exc
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise InvalidArgument.single(field, details) from exc
        raise


def _version(etag: str) -> int:
    digits = etag.strip('"')
    return int(digits) if digits.isdigit() else 0


def session_of(message: catalog_pb2.TrainingSession) -> Session:
    return Session(
        name=message.name,
        title=message.title,
        description=message.description,
        presenter=message.presenter,
        start=message.start_time.ToDatetime(tzinfo=dt.UTC),
        duration=message.duration.ToTimedelta(),
        time_zone=message.time_zone,
        join_url=message.join_url,
        state=_SESSION_STATES.get(message.state, SessionState.SCHEDULED),
        seats_left=message.seats_left if message.HasField("seats_left") else None,
        cancel_reason=message.cancel_reason,
        sequence=_version(message.etag),
    )


def registration_of(message: catalog_pb2.Registration) -> Registration:
    return Registration(
        state=_REGISTRATION_STATES.get(message.state, RegistrationState.CANCELLED),
        waitlist_position=message.waitlist_position,
    )


class CatalogClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = catalog_pb2_grpc.CatalogServiceStub(channel)

    async def session(self, name: str) -> Session:
        with _answers("training_session"):
            reply = await self._stub.GetTrainingSession(
                catalog_pb2.GetTrainingSessionRequest(name=name)
            )
        return session_of(reply)

    async def registration(self, training_session: str, email: str) -> Registration | None:
        try:
            with _answers("training_session"):
                reply = await self._stub.GetRegistration(
                    catalog_pb2.GetRegistrationRequest(
                        training_session=training_session, email=email
                    )
                )
        except NotFound:
            return None
        return registration_of(reply)

    async def register(self, training_session: str, email: str, invitation: str) -> Registration:
        with _answers("training_session"):
            reply = await self._stub.RegisterForSession(
                catalog_pb2.RegisterForSessionRequest(
                    training_session=training_session, email=email, invitation=invitation
                )
            )
        return registration_of(reply)

    async def cancel(self, training_session: str, email: str) -> Registration:
        with _answers("training_session"):
            reply = await self._stub.CancelRegistration(
                catalog_pb2.CancelRegistrationRequest(
                    training_session=training_session, email=email
                )
            )
        return registration_of(reply)


class DispatcherClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = dispatcher_pb2_grpc.DispatcherServiceStub(channel)

    async def unsubscribe(self, token: str) -> str:
        with _answers("token"):
            reply = await self._stub.Unsubscribe(
                dispatcher_pb2.UnsubscribeRequest(token=token, reason="one-click unsubscribe")
            )
        return reply.email
