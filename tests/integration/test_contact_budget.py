"""One contact budget per person, through the personalizer's API on PostgreSQL: two batches
holding the same people, approved at the same moment, reach them once; the one refused names
each person over the budget and is approved with an override or without them."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.personalizer.adapters.batch_repository import PostgresBatchRepository
from tests.helpers import Clients
from tests.integration.catalog_data import analytics_session

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its approvals spend the budget of the seeded people."""
    return fresh_database_url


def over_budget(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The PreconditionFailure violations of a refusal: draft name -> description."""
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
    status = rpc_status.from_call(error)
    assert status is not None, "the refusal carries google.rpc.PreconditionFailure details"
    found: dict[str, str] = {}
    for detail in status.details:
        failure = error_details_pb2.PreconditionFailure()
        assert detail.Unpack(failure)
        assert {v.type for v in failure.violations} == {"CONTACT_BUDGET"}
        found |= {v.subject: v.description for v in failure.violations}
    return found


async def _approve(c: Clients, request: pb.ApproveInvitationBatchRequest) -> pb.InvitationBatch:
    return await c.personalizer.ApproveInvitationBatch(request, metadata=c.csm)


async def test_two_batches_approved_at_once_reach_each_person_once(services: Clients) -> None:
    c = services
    sessions = [await analytics_session(c, days_ahead=days) for days in (40, 55)]
    first, second = [
        await c.personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(parent="customers/cloudtech", training_session=s.name),
            metadata=c.csm,
        )
        for s in sessions
    ]
    people = {d.recipient.id for d in first.drafts}
    assert len(people) >= 2 and people == {d.recipient.id for d in second.drafts}

    answers = await asyncio.gather(
        _approve(c, pb.ApproveInvitationBatchRequest(name=first.name)),
        _approve(c, pb.ApproveInvitationBatchRequest(name=second.name)),
        return_exceptions=True,
    )
    [approved] = [a for a in answers if isinstance(a, pb.InvitationBatch)]
    [refusal] = [a for a in answers if isinstance(a, grpc.aio.AioRpcError)]
    refused = second if approved.name == first.name else first
    named = over_budget(refusal)
    assert set(named) == {d.name for d in refused.drafts}
    assert all("one training message per 14 days" in text for text in named.values())
    assert approved.state == pb.BATCH_STATE_APPROVED

    # An override for one person, with a reason; the others left out.
    kept = refused.drafts[0].recipient
    answer = await _approve(
        c,
        pb.ApproveInvitationBatchRequest(
            name=refused.name,
            contact_budget_overrides=[
                pb.ContactBudgetOverride(stakeholder=kept.id, reason="asked for it")
            ],
            leave_out_over_budget=True,
        ),
    )
    states = {d.recipient.id: d.state for d in answer.drafts}
    assert states.pop(kept.id) == pb.DRAFT_STATE_APPROVED
    assert set(states.values()) == {pb.DRAFT_STATE_DROPPED}


async def test_an_override_without_a_reason_is_refused_naming_the_field(services: Clients) -> None:
    c = services
    session = await analytics_session(c)
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", training_session=session.name),
        metadata=c.csm,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _approve(
            c,
            pb.ApproveInvitationBatchRequest(
                name=batch.name,
                contact_budget_overrides=[
                    pb.ContactBudgetOverride(stakeholder=batch.drafts[0].recipient.id)
                ],
            ),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "contact_budget_overrides[0].reason" in (err.value.details() or "")


async def test_approvals_for_the_same_customer_wait_for_each_other(database_url: str) -> None:
    """The lock the approvals take: a second one for the customer waits until the first
    commits (then it reads that approval), one for another customer does not."""
    first, second, other = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        async with first.transaction():
            await PostgresBatchRepository(first).lock_approvals("cloudtech")

            async def lock(conn: asyncpg.Connection, customer: str) -> None:
                async with conn.transaction():
                    await PostgresBatchRepository(conn).lock_approvals(customer)

            waiting = asyncio.create_task(lock(second, "cloudtech"))
            await lock(other, "helios")  # nobody holds it: at once
            await asyncio.sleep(0.3)
            assert not waiting.done()
        await asyncio.wait_for(waiting, timeout=5)
    finally:
        for conn in (first, second, other):
            await conn.close()
