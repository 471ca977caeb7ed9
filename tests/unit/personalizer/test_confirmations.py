"""Confirmations of registrations, on fakes: a registration through an invitation is answered
once, approved with no review and announced to the dispatcher from the CSM who invited."""

from __future__ import annotations

import uuid

import pytest
from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.common.errors import FailedPrecondition, NotFound
from services.common.messaging.consumer import PoisonMessage
from services.personalizer.api.subscriptions import registration_changed
from services.personalizer.domain.events import InvitationApproved
from services.personalizer.domain.facts import RegistrationMove
from services.personalizer.domain.model import (
    SYSTEM_REGISTRATION,
    BatchState,
    DraftState,
    InvitationBatch,
    Purpose,
)
from services.personalizer.service_layer import confirmations, drafting, review
from tests.fakes.personalizer import FakePersonalizer
from tests.unit.personalizer.world import ANA, CSM, DASHBOARDS, world


async def _invited(p: FakePersonalizer) -> InvitationBatch:
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    return await review.approve_batch(p.deps, batch.name, "", [], CSM)


def _move(
    invitation: str, state: str, previous: str = "", position: int = 0, email: str = ""
) -> RegistrationMove:
    return RegistrationMove(
        event_id=uuid.uuid4(),
        training_session=DASHBOARDS.name,
        email=email or ANA.email or "",
        state=state,
        previous_state=previous,
        waitlist_position=position,
        invitation=invitation,
    )


def _ana_invitation(batch: InvitationBatch) -> str:
    draft = next(d for d in batch.drafts if d.recipient.stakeholder_id == ANA.id)
    return batch.draft_name(draft)


def _confirmations(p: FakePersonalizer) -> list[InvitationBatch]:
    return [b for b in p.store.batches.values() if b.purpose is Purpose.CONFIRMATION]


def _approvals_after(p: FakePersonalizer, count: int) -> list[InvitationApproved]:
    return [e for e in p.store.published[count:] if isinstance(e, InvitationApproved)]


async def test_a_registration_is_confirmed_once_approved_and_sent_from_the_csm() -> None:
    p = world()
    invited = await _invited(p)
    published = len(p.store.published)
    move = _move(_ana_invitation(invited), "registered")
    assert await confirmations.confirm_registration(p.deps, move)
    [batch] = _confirmations(p)
    [draft] = batch.drafts
    assert batch.state is BatchState.APPROVED and draft.state is DraftState.APPROVED
    assert batch.approved_by == SYSTEM_REGISTRATION and batch.source_event_id == move.event_id
    assert draft.recipient.stakeholder_id == ANA.id
    assert draft.content.subject.startswith("You're registered: Dashboards from scratch")
    assert "UID:" in draft.content.calendar_ics and "METHOD:REQUEST" in draft.content.calendar_ics
    [approved] = _approvals_after(p, published)
    assert approved.sender.email == CSM.subject and approved.recipient.email == ANA.email
    assert approved.invitation == batch.draft_name(draft)
    assert approved.approved_by == SYSTEM_REGISTRATION
    assert approved.purpose is Purpose.CONFIRMATION  # not one more invitation to track
    assert approved.content_sha256 == draft.content.sha256()
    # The same event again: nothing more.
    assert not await confirmations.confirm_registration(p.deps, move)
    assert len(_confirmations(p)) == 1 and len(_approvals_after(p, published)) == 1


async def test_a_promotion_from_the_waitlist_tells_the_person_a_seat_is_theirs() -> None:
    p = world()
    invitation = _ana_invitation(await _invited(p))
    assert await confirmations.confirm_registration(
        p.deps, _move(invitation, "registered", "waitlisted")
    )
    [batch] = _confirmations(p)
    content = batch.drafts[0].content
    assert content.subject.startswith("A seat is yours")
    assert "it is yours" in content.text_body and content.calendar_ics


async def test_a_place_on_the_waitlist_is_told_without_a_calendar_entry() -> None:
    p = world()
    invitation = _ana_invitation(await _invited(p))
    assert await confirmations.confirm_registration(
        p.deps, _move(invitation, "waitlisted", position=3)
    )
    [batch] = _confirmations(p)
    content = batch.drafts[0].content
    assert "waitlist" in content.subject and "place 3" in content.subject
    assert "in place 3" in content.text_body and content.calendar_ics == ""


@pytest.mark.parametrize(
    ("state", "previous", "with_invitation"),
    [
        ("registered", "", False),
        ("cancelled", "registered", True),
        ("attended", "registered", True),
        ("no_show", "registered", True),
    ],
)
async def test_moves_that_need_no_answer_send_nothing(
    state: str, previous: str, with_invitation: bool
) -> None:
    p = world()
    invitation = _ana_invitation(await _invited(p))
    published = len(p.store.published)
    move = _move(invitation if with_invitation else "", state, previous)
    assert not await confirmations.confirm_registration(p.deps, move)
    assert _confirmations(p) == [] and len(p.store.published) == published


async def test_a_move_in_a_session_cancelled_since_is_not_confirmed() -> None:
    p = world()
    invitation = _ana_invitation(await _invited(p))
    p.catalog.cancelled.add(DASHBOARDS.name)
    assert not await confirmations.confirm_registration(p.deps, _move(invitation, "registered"))
    assert _confirmations(p) == []


async def test_an_unknown_invitation_or_another_registrant_is_refused() -> None:
    p = world()
    invited = await _invited(p)
    unknown = f"{invited.name}/drafts/{uuid.uuid4()}"
    with pytest.raises(NotFound):
        await confirmations.confirm_registration(p.deps, _move(unknown, "registered"))
    with pytest.raises(FailedPrecondition):
        await confirmations.confirm_registration(
            p.deps,
            _move(_ana_invitation(invited), "registered", email="someone@else.example"),
        )
    assert _confirmations(p) == []


def test_the_decoder_takes_the_event_and_refuses_a_bad_invitation() -> None:
    invitation = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"
    event = events_pb2.RegistrationChanged(
        event_id=str(uuid.uuid4()),
        training_session=DASHBOARDS.name,
        email="ana@cloudtech.example",
        state=catalog_pb2.REGISTRATION_STATE_REGISTERED,
        previous_state=catalog_pb2.REGISTRATION_STATE_WAITLISTED,
        invitation=invitation,
    )
    move = registration_changed(event.SerializeToString())
    assert (move.state, move.previous_state, move.invitation) == (
        "registered",
        "waitlisted",
        invitation,
    )
    event.invitation = "customers/cloudtech/nonsense"
    with pytest.raises(PoisonMessage, match="invitation"):
        registration_changed(event.SerializeToString())
    event.invitation = ""
    event.state = catalog_pb2.REGISTRATION_STATE_UNSPECIFIED
    with pytest.raises(PoisonMessage, match="state"):
        registration_changed(event.SerializeToString())
