"""The personalizer's review handlers on fakes: drafting, adding back, editing, dropping,
rendering again and approving, with the events each publishes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.personalizer.api.convert import batch_to_pb
from services.personalizer.domain.events import DraftsReady, InvitationApproved
from services.personalizer.domain.gaps import Usage
from services.personalizer.domain.model import (
    Angle,
    BatchState,
    Content,
    DeliveryState,
    DraftState,
    ExclusionReason,
    InvitationBatch,
    Stakeholder,
)
from services.personalizer.service_layer import drafting, review
from tests.fakes.personalizer import FakePersonalizer
from tests.unit.personalizer.world import (
    ANA,
    BEN,
    CSM,
    DASHBOARDS,
    LOU,
    NORA,
    NOW,
    OLGA,
    OTHER_CSM,
    SAM,
    TIA,
    world,
)

PARENT = "customers/cloudtech"


async def draft(
    p: FakePersonalizer, request_id: str = "", session: str = DASHBOARDS.name
) -> InvitationBatch:
    return await drafting.draft_invitations(p.deps, PARENT, session, "", request_id, CSM)


def approvals(p: FakePersonalizer) -> list[InvitationApproved]:
    return [e for e in p.store.published if isinstance(e, InvitationApproved)]


def recipients(batch: InvitationBatch) -> list[str]:
    return [d.recipient.stakeholder_id for d in batch.drafts]


# Drafting ------------------------------------------------------------------------------------


async def test_a_draft_invites_who_fits_and_says_why_everyone_else_is_left_out() -> None:
    p = world()
    batch = await draft(p)
    assert sorted(recipients(batch)) == [ANA.id, BEN.id]
    assert {e.stakeholder.id: e.reason for e in batch.excluded} == {
        LOU.id: ExclusionReason.LOW_FIT,
        OLGA.id: ExclusionReason.OPTED_OUT,
        NORA.id: ExclusionReason.NO_EMAIL,
        SAM.id: ExclusionReason.SUPPRESSED,
        TIA.id: ExclusionReason.ALREADY_TRAINED,
    }
    stored = p.store.batch(batch.id)
    assert recipients(stored) == recipients(batch)
    assert all(d.state is DraftState.PENDING_REVIEW for d in stored.drafts)
    # The CSM asked for it: nobody needs telling that it is ready.
    assert p.store.published == []


async def test_a_repeated_request_id_returns_the_first_batch_and_drafts_nothing_more() -> None:
    p = world()
    first = await draft(p, request_id="req-1")
    again = await draft(p, request_id="req-1")
    other = await draft(p, request_id="req-2")
    assert again.id == first.id and other.id != first.id
    assert len(p.store.batches) == 2


async def test_someone_holding_an_approved_invitation_is_not_drafted_again() -> None:
    p = world()
    first = await draft(p)
    await review.approve_batch(p.deps, first.name, first.etag, [], CSM)
    second = await draft(p)
    assert recipients(second) == []
    assert {e.stakeholder.id: e.reason for e in second.excluded}[ANA.id] is (
        ExclusionReason.ALREADY_INVITED
    )


async def test_a_request_that_finds_nobody_to_invite_leaves_no_batch_to_review() -> None:
    p = world()
    first = await draft(p)
    await review.approve_batch(p.deps, first.name, first.etag, [], CSM)
    again = await draft(p)
    assert not again.kept and again.excluded
    assert list(p.store.batches) == [first.id]
    page = await review.list_batches(p.deps, PARENT, 10, "", True, CSM)
    assert page.batches == []
    message = batch_to_pb(again)
    assert (message.name, message.etag, message.state) == ("", "", pb.BATCH_STATE_UNSPECIFIED)
    assert {e.stakeholder.id for e in message.excluded} >= {ANA.id, BEN.id}


async def test_another_csms_customer_answers_as_if_it_did_not_exist() -> None:
    p = world()
    with pytest.raises(NotFound):
        await drafting.draft_invitations(p.deps, PARENT, DASHBOARDS.name, "", "", OTHER_CSM)
    assert p.store.batches == {}


# Adding a left-out stakeholder back ----------------------------------------------------------


@pytest.mark.parametrize("person", [OLGA, NORA, SAM], ids=lambda s: s.id)
async def test_who_is_left_out_for_good_cannot_be_added_back(person: Stakeholder) -> None:
    p = world()
    batch = await draft(p)
    with pytest.raises(FailedPrecondition):
        await drafting.add_recipient(p.deps, batch.name, person.id, batch.etag, CSM)
    assert p.store.batch(batch.id).version == batch.version


async def test_only_a_left_out_stakeholder_can_be_added_and_only_on_a_fresh_etag() -> None:
    p = world()
    batch = await draft(p)
    with pytest.raises(InvalidArgument):
        await drafting.add_recipient(p.deps, batch.name, ANA.id, batch.etag, CSM)
    with pytest.raises(Aborted):
        await drafting.add_recipient(p.deps, batch.name, LOU.id, '"0"', CSM)


async def test_a_low_fit_or_trained_stakeholder_is_added_back_with_a_draft_of_their_own() -> None:
    p = world()
    batch = await draft(p)
    lou = await drafting.add_recipient(p.deps, batch.name, LOU.id, batch.etag, CSM)
    assert lou.recipient.stakeholder_id == LOU.id
    assert "added_by_csm" in [r.factor for r in lou.reasons]
    stored = p.store.batch(batch.id)
    assert recipients(stored)[-1] == LOU.id
    assert LOU.id not in [e.stakeholder.id for e in stored.excluded]
    assert stored.etag != batch.etag
    # Without an etag the change goes on whatever the batch is now.
    await drafting.add_recipient(p.deps, batch.name, TIA.id, "", CSM)
    assert recipients(p.store.batch(batch.id))[-1] == TIA.id


async def test_nobody_is_added_to_an_approved_batch() -> None:
    p = world()
    batch = await draft(p)
    approved = await review.approve_batch(p.deps, batch.name, "", [], CSM)
    with pytest.raises(FailedPrecondition):
        await drafting.add_recipient(p.deps, batch.name, LOU.id, approved.etag, CSM)


# Editing, dropping and rendering again -------------------------------------------------------


async def test_an_edit_needs_the_drafts_current_etag_and_changes_the_batchs() -> None:
    p = world()
    batch = await draft(p)
    d = batch.drafts[0]
    name = batch.draft_name(d)
    new = Content("A better subject", "Text", "<p>ignored</p>", "")
    edited = await review.update_draft(p.deps, name, ["content.subject"], new, d.etag, CSM)
    assert edited.content.subject == "A better subject"
    assert edited.content.text_body == d.content.text_body  # not in the mask
    stored = p.store.batch(batch.id)
    assert stored.draft(d.id).content.subject == "A better subject"
    assert stored.etag != batch.etag
    with pytest.raises(Aborted):
        await review.update_draft(p.deps, name, ["content.subject"], new, d.etag, CSM)
    with pytest.raises(InvalidArgument):
        await review.update_draft(p.deps, name, ["recipient.email"], new, "", CSM)


async def test_an_edited_html_body_is_stored_sanitized() -> None:
    p = world()
    batch = await draft(p)
    d = batch.drafts[0]
    html = '<p onclick="steal()">Hello</p><script>alert(1)</script>'
    new = Content("", "", html, "")
    await review.update_draft(p.deps, batch.draft_name(d), ["content.html_body"], new, "", CSM)
    stored = p.store.batch(batch.id).draft(d.id).content.html_body
    assert "Hello" in stored and "script" not in stored and "onclick" not in stored


async def test_a_dropped_draft_is_frozen_and_left_out_of_the_approval() -> None:
    p = world()
    batch = await draft(p)
    ana = next(d for d in batch.drafts if d.recipient.stakeholder_id == ANA.id)
    with pytest.raises(Aborted):
        await review.drop_draft(p.deps, batch.draft_name(ana), '"7"', CSM)
    dropped = await review.drop_draft(p.deps, batch.draft_name(ana), ana.etag, CSM)
    assert dropped.state is DraftState.DROPPED
    with pytest.raises(FailedPrecondition):
        await review.update_draft(
            p.deps, batch.draft_name(ana), ["content.subject"], Content("x", "", "", ""), "", CSM
        )
    await review.approve_batch(p.deps, batch.name, "", [], CSM)
    assert [e.recipient.stakeholder_id for e in approvals(p)] == [BEN.id]


async def test_rendering_again_from_the_angle_or_from_the_csms_own_templates() -> None:
    p = world()
    batch = await draft(p)
    d = batch.drafts[0]
    name = batch.draft_name(d)
    original = d.content
    await review.update_draft(
        p.deps, name, ["content.subject"], Content("Edited", "", "", ""), d.etag, CSM
    )
    again = await review.render_draft(p.deps, name, "", "", "", CSM)
    assert again.content == original
    own = await review.render_draft(
        p.deps,
        name,
        again.etag,
        "Hi {{ recipient.first_name }}",
        "See you at {{ session.title }}.",
        CSM,
    )
    assert own.content.subject == f"Hi {d.recipient.display_name.split()[0]}"
    assert own.content.text_body == f"See you at {DASHBOARDS.title}.\n"
    assert own.content.calendar_ics == original.calendar_ics
    assert p.store.batch(batch.id).draft(d.id).content == own.content
    with pytest.raises(Aborted):
        await review.render_draft(p.deps, name, again.etag, "", "", CSM)


# Approving -----------------------------------------------------------------------------------


async def test_approval_publishes_each_invitation_with_its_frozen_content() -> None:
    p = world()
    batch = await draft(p)
    send_after = NOW + dt.timedelta(hours=2)
    approved = await review.approve_batch(p.deps, batch.name, batch.etag, [], CSM, send_after)
    assert approved.state is BatchState.APPROVED
    stored = p.store.batch(batch.id)
    events = approvals(p)
    assert [e.invitation for e in events] == [stored.draft_name(d) for d in stored.drafts]
    for event, d in zip(events, stored.drafts, strict=True):
        assert d.state is DraftState.APPROVED and d.delivery_state is DeliveryState.PENDING
        assert event.content == d.content
        assert event.content_sha256 == d.content.sha256() == d.content_sha256
        assert event.recipient == d.recipient and event.angle is d.angle
        assert (event.batch, event.customer_id) == (batch.name, "cloudtech")
        assert event.training_session == DASHBOARDS.name
        assert event.sender.email == CSM.subject
        assert (event.approved_by, event.approved_at) == (CSM.subject, NOW)
        assert event.send_after == send_after
    assert len({e.event_id for e in events}) == len(events)


async def test_approving_again_publishes_nothing_new() -> None:
    p = world()
    batch = await draft(p)
    await review.approve_batch(p.deps, batch.name, batch.etag, [], CSM)
    published = list(p.store.published)
    await review.approve_batch(p.deps, batch.name, "", [], CSM)
    assert p.store.published == published


async def test_a_stale_approval_is_refused_and_publishes_nothing() -> None:
    p = world()
    batch = await draft(p)
    d = batch.drafts[0]
    await review.drop_draft(p.deps, batch.draft_name(d), d.etag, CSM)
    with pytest.raises(Aborted):
        await review.approve_batch(p.deps, batch.name, batch.etag, [], CSM)
    assert p.store.published == []
    assert p.store.batch(batch.id).state is BatchState.PENDING_REVIEW


async def test_a_partial_approval_sends_the_chosen_drafts_and_leaves_the_rest_for_later() -> None:
    p = world()
    batch = await draft(p)
    first, second = batch.drafts
    partly = await review.approve_batch(p.deps, batch.name, "", [batch.draft_name(first)], CSM)
    assert partly.state is BatchState.PENDING_REVIEW
    assert [e.invitation for e in approvals(p)] == [batch.draft_name(first)]
    await review.approve_batch(p.deps, batch.name, partly.etag, [], CSM)
    assert [e.invitation for e in approvals(p)] == [
        batch.draft_name(first),
        batch.draft_name(second),
    ]
    with pytest.raises(InvalidArgument):
        await review.approve_batch(
            p.deps, batch.name, "", ["customers/cloudtech/invitation-batches/x/drafts/y"], CSM
        )


async def test_a_second_approved_invitation_to_the_same_session_is_refused() -> None:
    p = world()
    first = await draft(p)
    second = await draft(p, request_id="twin")  # drafted before the first was approved
    await review.approve_batch(p.deps, first.name, "", [], CSM)
    published = list(p.store.published)
    with pytest.raises(FailedPrecondition):
        await review.approve_batch(p.deps, second.name, "", [], CSM)
    assert p.store.published == published
    assert p.store.batch(second.id).state is BatchState.PENDING_REVIEW


async def test_edits_after_approval_are_refused() -> None:
    p = world()
    batch = await draft(p)
    await review.approve_batch(p.deps, batch.name, "", [], CSM)
    d = batch.drafts[0]
    content = dataclasses.replace(d.content, subject="Too late")
    with pytest.raises(FailedPrecondition):
        await review.update_draft(
            p.deps, batch.draft_name(d), ["content.subject"], content, "", CSM
        )
    with pytest.raises(FailedPrecondition):
        await review.drop_draft(p.deps, batch.draft_name(d), "", CSM)
    assert p.store.batch(batch.id).draft(d.id).content == d.content


async def test_a_batch_of_a_trigger_is_announced_with_its_draft_count() -> None:
    p = world()
    customer = p.store.customers["cloudtech"]
    batch = await drafting.compose_batch(
        p.deps,
        customer,
        DASHBOARDS,
        "trigger:test",
        drafting.Selection(angle=Angle.NEW_FEATURE),
        trigger="test",
    )
    [ready] = p.store.published
    assert ready == DraftsReady(
        event_id=ready.event_id,
        batch=batch.name,
        customer_id="cloudtech",
        csm_email=CSM.subject,
        trigger="test",
        draft_count=2,
    )


async def test_each_draft_offers_only_the_other_dates_that_suit_its_reader() -> None:
    p = world()
    advanced = dataclasses.replace(
        DASHBOARDS,
        name="training-sessions/advanced-dashboards",
        title="Advanced dashboards",
        level="advanced",
        course="courses/advanced-dashboards",
    )
    p.catalog.add(advanced)
    p.store.usage[(ANA.id, "dashboards")] = Usage(active_days=25, events=900)
    batch = await draft(p, session=advanced.name)
    offered = {
        d.recipient.stakeholder_id: [a["title"] for a in d.render_context["alternatives"]]
        for d in batch.drafts
    }
    # Ana already uses dashboards more than anyone: the beginner course is no "other date".
    assert offered[ANA.id] == []
    assert DASHBOARDS.title in offered[BEN.id]
