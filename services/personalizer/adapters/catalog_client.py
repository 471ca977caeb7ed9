"""The catalog, asked over gRPC: sessions by name and by a CSM's words."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import grpc
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.personalizer.domain.model import LearningOutcome, SessionInfo

# The catalog's enums as the personalizer's domain names them, both ways.
LEVEL_TO_PB: dict[str, catalog_pb2.SessionLevel] = {
    "beginner": catalog_pb2.SESSION_LEVEL_BEGINNER,
    "intermediate": catalog_pb2.SESSION_LEVEL_INTERMEDIATE,
    "advanced": catalog_pb2.SESSION_LEVEL_ADVANCED,
}
FORMAT_TO_PB: dict[str, catalog_pb2.SessionFormat] = {
    "live_webinar": catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
    "in_person": catalog_pb2.SESSION_FORMAT_IN_PERSON,
    "on_demand": catalog_pb2.SESSION_FORMAT_ON_DEMAND,
}
_LEVELS = {v: k for k, v in LEVEL_TO_PB.items()}
_FORMATS = {v: k for k, v in FORMAT_TO_PB.items()}


def session_info(message: catalog_pb2.TrainingSession) -> SessionInfo:
    """The personalizer's view of a catalog session."""
    return SessionInfo(
        name=message.name,
        title=message.title,
        topic=message.topic,
        level=_LEVELS.get(message.level, "intermediate"),
        format=_FORMATS.get(message.format, "live_webinar"),
        features=tuple(message.features),
        target_roles=tuple(message.target_roles),
        start_time=message.start_time.ToDatetime(tzinfo=dt.UTC),
        time_zone=message.time_zone,
        duration=message.duration.ToTimedelta(),
        join_url=message.join_url,
        registration_url=message.registration_url,
        presenter=message.presenter,
        learning_outcomes=tuple(
            LearningOutcome(o.feature, o.text, _LEVELS.get(o.level, ""))
            for o in message.learning_outcomes
        ),
        sequence=_version(message.etag),
        course=message.course,
    )


def _version(etag: str) -> int:
    """The catalog's etag is the quoted version number."""
    digits = etag.strip('"')
    return int(digits) if digits.isdigit() else 0


@contextlib.contextmanager
def _catalog_errors(field: str) -> Iterator[None]:
    """The catalog's answers about what was asked become the personalizer's domain errors, so
    that a caller (or an event naming a session that does not exist) is told, not retried.
    UNAVAILABLE and DEADLINE_EXCEEDED stay as they are: the catalog is away for now."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(exc.details() or "not found") from exc
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise InvalidArgument.single(field, exc.details() or "") from exc
        raise


class CatalogClient:
    """Wraps the generated stub; catalog errors become the personalizer's domain errors."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = catalog_pb2_grpc.CatalogServiceStub(channel)

    async def get(self, name: str, allow_cancelled: bool = False) -> SessionInfo:
        """The session by name; a cancelled one is FAILED_PRECONDITION unless allowed."""
        with _catalog_errors("training_session"):
            message = await self._stub.GetTrainingSession(
                catalog_pb2.GetTrainingSessionRequest(name=name)
            )
        if message.state == catalog_pb2.SESSION_STATE_CANCELLED and not allow_cancelled:
            raise FailedPrecondition(f"{name} is cancelled")
        return session_info(message)

    async def alternatives(self, name: str, limit: int = 3) -> list[SessionInfo]:
        """Other upcoming sessions for someone who can't make this one."""
        with _catalog_errors("training_session"):
            response = await self._stub.ListAlternativeSessions(
                catalog_pb2.ListAlternativeSessionsRequest(name=name, page_size=limit)
            )
        return [session_info(a.training_session) for a in response.alternatives]

    async def upcoming(
        self, feature: str = "", level: str = "", limit: int = 3
    ) -> list[SessionInfo]:
        """The next scheduled sessions, covering a feature and at a level when given."""
        request = catalog_pb2.ListTrainingSessionsRequest(page_size=limit, feature=feature)
        if level:
            request.level = LEVEL_TO_PB[level]
        with _catalog_errors("feature"):
            response = await self._stub.ListTrainingSessions(request)
        return [session_info(s) for s in response.training_sessions]

    async def best_match(self, topic: str) -> SessionInfo:
        """The upcoming session that best matches a CSM's words."""
        with _catalog_errors("topic"):
            response = await self._stub.SearchTrainingSessions(
                catalog_pb2.SearchTrainingSessionsRequest(query=topic, page_size=1)
            )
        if not response.results:
            raise NotFound(f"no upcoming training session matches {topic!r}")
        return session_info(response.results[0].training_session)
