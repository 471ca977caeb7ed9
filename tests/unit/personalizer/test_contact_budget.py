"""One contact budget per person: at most one training message within the frequency cap's
window, across every batch, unless the CSM overrides it for that person with a reason."""

from __future__ import annotations

import pytest

from services.common.errors import FailedPrecondition, InvalidArgument
from services.personalizer.domain.events import InvitationApproved
from services.personalizer.domain.model import (
    CONTACT_BUDGET,
    BatchState,
    DraftState,
    InvitationBatch,
)
from services.personalizer.service_layer import drafting, review
from tests.fakes.personalizer import FakePersonalizer
from tests.unit.personalizer.world import ANA, BEN, CSM, DASHBOARDS, DASHBOARDS_AGAIN, world

PARENT = "customers/cloudtech"


async def draft(p: FakePersonalizer, session: str) -> InvitationBatch:
    return await drafting.draft_invitations(p.deps, PARENT, session, "", "", CSM)


def draft_of(batch: InvitationBatch, person: str) -> str:
    return next(batch.draft_name(d) for d in batch.drafts if d.recipient.stakeholder_id == person)


def states(p: FakePersonalizer, batch: InvitationBatch) -> dict[str, DraftState]:
    stored = p.store.batch(batch.id)
    return {d.recipient.stakeholder_id: d.state for d in stored.drafts}


async def two_batches_ana_approved(p: FakePersonalizer) -> InvitationBatch:
    """Two batches drafted at once for Ana and Ben (to two sessions); Ana's invitation of the
    first approved. The second is returned, still waiting for review."""
    first, second = await draft(p, DASHBOARDS.name), await draft(p, DASHBOARDS_AGAIN.name)
    assert {d.recipient.stakeholder_id for d in second.drafts} == {ANA.id, BEN.id}
    await review.approve_batch(p.deps, first.name, first.etag, [draft_of(first, ANA.id)], CSM)
    return second


async def test_a_second_batch_to_someone_messaged_in_the_window_is_refused_naming_them() -> None:
    p = world()
    second = await two_batches_ana_approved(p)
    with pytest.raises(FailedPrecondition) as refused:
        await review.approve_batch(p.deps, second.name, second.etag, [], CSM)
    [violation] = refused.value.violations
    assert violation.kind == CONTACT_BUDGET
    assert violation.subject == draft_of(second, ANA.id)
    assert "Dashboards from scratch" in violation.description
    assert "one training message per 14 days" in violation.description
    # Nothing of the batch was approved, nothing sent.
    assert set(states(p, second).values()) == {DraftState.PENDING_REVIEW}
    assert len([e for e in p.store.published if isinstance(e, InvitationApproved)]) == 1


async def test_the_batch_can_be_approved_without_them() -> None:
    p = world()
    second = await two_batches_ana_approved(p)
    batch = await review.approve_batch(
        p.deps, second.name, second.etag, [], CSM, leave_out_over_budget=True
    )
    assert batch.state is BatchState.APPROVED
    assert states(p, second) == {ANA.id: DraftState.DROPPED, BEN.id: DraftState.APPROVED}
    approved = [e for e in p.store.published if isinstance(e, InvitationApproved)]
    assert [e.recipient.stakeholder_id for e in approved] == [ANA.id, BEN.id]
    [left_out] = [c for c in p.store.changes if c.action == "left out over the contact budget"]
    assert left_out.draft_id is not None
    assert second.draft_name(second.draft(left_out.draft_id)) == draft_of(second, ANA.id)
    assert "Dashboards from scratch" in left_out.detail


async def test_an_override_with_a_reason_reaches_the_person_and_is_recorded() -> None:
    p = world()
    second = await two_batches_ana_approved(p)
    reason = "Ana asked for the second date herself"
    await review.approve_batch(
        p.deps, second.name, second.etag, [], CSM, budget_overrides={ANA.id: reason}
    )
    assert set(states(p, second).values()) == {DraftState.APPROVED}
    approved = [e for e in p.store.published if isinstance(e, InvitationApproved)]
    overrides = {e.invitation: e.contact_budget_override for e in approved[1:]}
    assert overrides == {draft_of(second, ANA.id): reason, draft_of(second, BEN.id): ""}
    [recorded] = [c for c in p.store.changes if c.action == "contact budget overridden"]
    assert (recorded.detail, recorded.actor) == (reason, CSM.subject)


async def test_an_override_for_someone_not_in_the_approval_is_refused() -> None:
    p = world()
    second = await two_batches_ana_approved(p)
    with pytest.raises(InvalidArgument, match="contact_budget_overrides"):
        await review.approve_batch(
            p.deps, second.name, second.etag, [], CSM, budget_overrides={"nobody": "x"}
        )


async def test_nothing_left_to_approve_is_refused_without_change() -> None:
    p = world()
    first, second = await draft(p, DASHBOARDS.name), await draft(p, DASHBOARDS_AGAIN.name)
    await review.approve_batch(p.deps, first.name, first.etag, [], CSM)
    with pytest.raises(FailedPrecondition, match="nothing is left to approve"):
        await review.approve_batch(
            p.deps, second.name, second.etag, [], CSM, leave_out_over_budget=True
        )
    assert set(states(p, second).values()) == {DraftState.PENDING_REVIEW}
