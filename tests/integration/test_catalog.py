"""The catalog over gRPC on real PostgreSQL: create, get, list, search."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2

from tests.helpers import Clients

pytestmark = pytest.mark.integration


def _session(title: str, days_ahead: int = 30) -> catalog_pb2.TrainingSession:
    start = Timestamp()
    start.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=days_ahead))
    duration = Duration()
    duration.FromTimedelta(dt.timedelta(minutes=45))
    return catalog_pb2.TrainingSession(
        title=title,
        topic="Test",
        features=["alerts"],
        level=catalog_pb2.SESSION_LEVEL_INTERMEDIATE,
        format=catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR,
        start_time=start,
        time_zone="Europe/Paris",
        duration=duration,
        registration_url="https://example.com/register",
    )


async def test_create_then_get_and_a_retried_create_makes_one_session(services: Clients) -> None:
    request_id = str(uuid.uuid4())
    request = catalog_pb2.CreateTrainingSessionRequest(
        training_session=_session(f"Alerting Deep Dive {request_id[:8]}"), request_id=request_id
    )
    first = await services.catalog.CreateTrainingSession(request, metadata=services.csm)
    retried = await services.catalog.CreateTrainingSession(request, metadata=services.csm)
    assert first.name == retried.name and first.name.startswith("training-sessions/")
    got = await services.catalog.GetTrainingSession(
        catalog_pb2.GetTrainingSessionRequest(name=first.name), metadata=services.csm
    )
    assert got.title == first.title and got.time_zone == "Europe/Paris"
    assert got.duration.ToTimedelta() == dt.timedelta(minutes=45)
    assert got.etag


async def test_get_of_a_malformed_or_unknown_name(services: Clients) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.GetTrainingSession(
            catalog_pb2.GetTrainingSessionRequest(name="sessions/1"), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.GetTrainingSession(
            catalog_pb2.GetTrainingSessionRequest(name=f"training-sessions/{uuid.uuid4()}"),
            metadata=services.csm,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_pages_through_upcoming_sessions_in_start_order(services: Clients) -> None:
    seen: list[catalog_pb2.TrainingSession] = []
    token = ""
    while True:
        page = await services.catalog.ListTrainingSessions(
            catalog_pb2.ListTrainingSessionsRequest(page_size=2, page_token=token),
            metadata=services.csm,
        )
        seen.extend(page.training_sessions)
        token = page.next_page_token
        if not token:
            break
    starts = [s.start_time.ToDatetime() for s in seen]
    assert starts == sorted(starts)
    assert len({s.name for s in seen}) == len(seen) >= 4
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert all(start > now for start in starts), "the PRD's past session is not upcoming"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.ListTrainingSessions(
            catalog_pb2.ListTrainingSessionsRequest(page_size=1000), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "query",
    ["Advanced Analytics", "Advanced Analytics training", "Advnced analytics", "analytics"],
)
async def test_search_finds_the_course_a_csm_means(services: Clients, query: str) -> None:
    found = await services.catalog.SearchTrainingSessions(
        catalog_pb2.SearchTrainingSessionsRequest(query=query), metadata=services.csm
    )
    assert found.results, query
    assert found.results[0].training_session.title == "Advanced Analytics & Custom Dashboards"


async def test_search_by_feature_words(services: Clients) -> None:
    found = await services.catalog.SearchTrainingSessions(
        catalog_pb2.SearchTrainingSessionsRequest(query="dashboards training"),
        metadata=services.csm,
    )
    titles = [r.training_session.title for r in found.results]
    assert "Dashboards Fundamentals" in titles
    assert "Admin Console Masterclass" not in titles
