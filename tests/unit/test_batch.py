"""The invitation batch aggregate: review, edit, approval."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from services.common.errors import Aborted, FailedPrecondition, InvalidArgument
from services.personalizer.domain.events import InvitationApproved
from services.personalizer.domain.model import (
    Angle,
    BatchState,
    Content,
    DraftState,
    InvitationBatch,
    InvitationDraft,
    Recipient,
    Sender,
)
from tests.unit.test_selection import SESSION

AT = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def batch(n: int = 2) -> InvitationBatch:
    drafts = [
        InvitationDraft(
            id=uuid.uuid4(),
            recipient=Recipient(f"p{i}", f"P {i}", f"p{i}@x.dev", "team_lead", "Lead", "UTC"),
            score=0.8,
            reasons=[],
            angle=Angle.CLOSE_GAP,
            talking_points=[],
            content=Content(f"Subject {i}", "text", "<p>html</p>", "ics"),
            registration_url="https://x.dev/r",
        )
        for i in range(n)
    ]
    return InvitationBatch(
        id=uuid.uuid4(),
        customer_id="c",
        customer_name="C",
        session=SESSION,
        sender=Sender("csm@x.dev", "CSM"),
        created_by="csm@x.dev",
        created_at=AT,
        drafts=drafts,
        excluded=[],
    )


def approvals(b: InvitationBatch) -> list[InvitationApproved]:
    return [e for e in b.pending_events if isinstance(e, InvitationApproved)]


def test_approval_records_who_when_and_the_fingerprint_and_emits_one_event_each() -> None:
    b = batch()
    b.approve("csm@x.dev", AT, b.etag)
    assert b.state is BatchState.APPROVED and b.approved_by == "csm@x.dev" and b.approved_at == AT
    assert all(
        d.state is DraftState.APPROVED and d.content_sha256 == d.content.sha256() for d in b.drafts
    )
    assert [e.invitation for e in approvals(b)] == [b.draft_name(d) for d in b.drafts]


def test_approving_twice_emits_nothing_more() -> None:
    b = batch()
    b.approve("csm@x.dev", AT, "")
    b.collect_events()
    assert b.approve("csm@x.dev", AT, "") == []
    assert b.collect_events() == []


def test_a_stale_etag_is_refused() -> None:
    b = batch()
    stale = b.etag
    d = b.drafts[0]
    b.edit_draft(d.id, dataclasses.replace(d.content, subject="new"), d.etag, "csm@x.dev")
    with pytest.raises(Aborted):
        b.approve("csm@x.dev", AT, stale)


def test_approved_content_cannot_be_edited() -> None:
    b = batch()
    b.approve("csm@x.dev", AT, "")
    d = b.drafts[0]
    with pytest.raises(FailedPrecondition):
        d.edit(dataclasses.replace(d.content, subject="new"), d.etag, "csm@x.dev")


def test_an_edited_subject_must_stay_one_line() -> None:
    d = batch().drafts[0]
    with pytest.raises(InvalidArgument) as err:
        d.edit(dataclasses.replace(d.content, subject="Hi\r\nBcc: x@evil"), d.etag, "csm@x.dev")
    assert err.value.violations[0].field == "draft.content.subject"


def test_the_fingerprint_tells_apart_contents_that_only_shift_a_boundary() -> None:
    assert Content("ab", "c", "", "").sha256() != Content("a", "bc", "", "").sha256()


def test_approving_a_subset_leaves_the_rest_pending_until_approved_or_dropped() -> None:
    b = batch(3)
    first, second, third = b.drafts
    b.approve("csm@x.dev", AT, b.etag, only={first.id})
    assert [d.state for d in b.drafts] == [
        DraftState.APPROVED,
        DraftState.PENDING_REVIEW,
        DraftState.PENDING_REVIEW,
    ]
    assert b.state is BatchState.PENDING_REVIEW and len(approvals(b)) == 1
    b.drop_draft(third.id, third.etag, "csm@x.dev")
    b.approve("csm@x.dev", AT, "")
    assert b.state is BatchState.APPROVED  # type: ignore[comparison-overlap]  # approve() changed it
    assert [e.invitation for e in approvals(b)] == [b.draft_name(first), b.draft_name(second)]
    with pytest.raises(InvalidArgument):
        batch().approve("csm@x.dev", AT, "", only={uuid.uuid4()})
