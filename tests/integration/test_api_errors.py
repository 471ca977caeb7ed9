"""Who may call what, and what a malformed request gets back."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from trainvite.catalog.v1 import catalog_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.auth import CallerKind, issue_token
from tests.helpers import Clients, bearer

pytestmark = pytest.mark.integration

GAPS = pb.GetTrainingGapsRequest(name="customers/cloudtech/training-gaps")


def bad_fields(error: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(error)
    assert status is not None, "INVALID_ARGUMENT carries google.rpc.BadRequest details"
    fields = set()
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        assert detail.Unpack(bad_request)
        fields |= {v.field for v in bad_request.field_violations}
    return fields


async def test_a_call_without_a_token_is_unauthenticated(services: Clients) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(GAPS)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_token_signed_with_another_key_is_unauthenticated(services: Clients) -> None:
    forged = bearer(
        issue_token(
            "not-the-key-but-just-as-long-as-one-0123456789",
            "alex.rivera@trainvite.dev",
            CallerKind.CSM,
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(GAPS, metadata=forged)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.ListTrainingSessions(
            catalog_pb2.ListTrainingSessionsRequest(), metadata=(("authorization", "Bearer x.y.z"),)
        )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_csm_cannot_touch_another_csms_customer(services: Clients) -> None:
    # Another CSM's customer answers like one that does not exist.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(GAPS, metadata=services.other_csm)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(parent="customers/cloudtech", topic="Advanced Analytics"),
            metadata=services.other_csm,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Services act for no customer: the gateway passes the CSM's own token.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(GAPS, metadata=services.service)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await services.personalizer.GetTrainingGaps(GAPS, metadata=services.csm)


async def test_malformed_requests_name_the_bad_fields(services: Clients) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(parent="cloudtech"), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(err.value) == {"parent", "training_session"}

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.GetTrainingSession(
            catalog_pb2.GetTrainingSessionRequest(name="training-sessions/42"),
            metadata=services.csm,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(err.value) == {"name"}


async def test_unknown_resources_are_not_found(services: Clients) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(
            pb.GetTrainingGapsRequest(name="customers/nobody/training-gaps"), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(
                parent="customers/cloudtech", topic="underwater basket weaving"
            ),
            metadata=services.csm,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_is_open_and_serving(services: Clients) -> None:
    for channel in services.channels:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_every_service_without_a_token(services: Clients) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    expected = {
        "trainvite.catalog.v1.CatalogService",
        "trainvite.personalizer.v1.PersonalizerService",
        "trainvite.dispatcher.v1.DispatcherService",
    }
    listed: set[str] = set()
    for channel in services.channels:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            listed |= {s.name for s in reply.list_services_response.service}
    assert expected <= listed
    assert "grpc.health.v1.Health" in listed
