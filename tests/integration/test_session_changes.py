"""A session that moves or is cancelled after invitations went out: notices to approve."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from trainvite.catalog.v1 import catalog_pb2 as cpb
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tests.helpers import Clients
from tests.integration.catalog_data import analytics_session, ts
from tests.mail_checks import check_raw_message
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people to sessions they change."""
    return fresh_database_url


async def invited_session(c: Clients) -> tuple[cpb.TrainingSession, pb.InvitationBatch]:
    """A new analytics session, with CloudTech's invitations to it approved."""
    session = await analytics_session(c)
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", training_session=session.name),
        metadata=c.csm,
    )
    assert batch.drafts
    approved = await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=c.csm
    )
    return session, approved


async def pending_notice(c: Clients, purpose: int) -> pb.InvitationBatch:
    async def notices() -> list[pb.InvitationBatch]:
        page = await c.personalizer.ListInvitationBatches(
            pb.ListInvitationBatchesRequest(parent="customers/cloudtech", pending_review_only=True),
            metadata=c.csm,
        )
        return [b for b in page.invitation_batches if b.purpose == purpose]

    name = pb.BatchPurpose.Name(purpose)
    return (await wait_for(notices, f"a {name} notice drafted", timeout=10))[0]


async def test_a_reschedule_drafts_a_notice_to_every_invitee(
    services: Clients, outbox_dir: Path
) -> None:
    session, invitations = await invited_session(services)
    later = session.start_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(days=7)
    await services.catalog.UpdateTrainingSession(
        cpb.UpdateTrainingSessionRequest(
            training_session=cpb.TrainingSession(name=session.name, start_time=ts(later)),
            update_mask=FieldMask(paths=["start_time"]),
        ),
        metadata=services.editor,
    )
    notice = await pending_notice(services, pb.BATCH_PURPOSE_RESCHEDULED)
    assert {d.recipient.email for d in notice.drafts} == {
        d.recipient.email for d in invitations.drafts
    }
    assert notice.training_session.name == session.name
    sarah = next(d for d in notice.drafts if d.recipient.display_name == "Sarah Chen")
    assert sarah.content.subject.startswith("New date:")
    old_day = session.start_time.ToDatetime(tzinfo=dt.UTC).astimezone(
        dt.timezone(dt.timedelta(hours=-5))
    )
    assert f"{old_day:%B} {old_day.day}" in sarah.content.text_body
    assert "has moved to" in sarah.content.text_body

    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=notice.name), metadata=services.csm
    )
    expected = len(invitations.drafts) + len(notice.drafts)

    def all_sent() -> list[EmailMessage] | NotYet:
        sent = [check_raw_message(p.read_bytes()) for p in outbox_dir.glob("*.eml")]
        return sent if len(sent) == expected else NotYet(len(sent))

    sent = await wait_for(all_sent, f"{expected} messages in the outbox", timeout=10)
    moved = [m for m in sent if str(m["Subject"]).startswith("New date:")]
    assert len(moved) == len(notice.drafts)
    calendar_part = next(p for p in moved[0].walk() if p.get_content_type() == "text/calendar")
    event = icalendar.Calendar.from_ical(calendar_part.get_content()).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == later
    assert event.decoded("SEQUENCE") == 2  # the catalog's version after one change


async def test_a_cancellation_drafts_a_notice_with_alternatives(services: Clients) -> None:
    session, invitations = await invited_session(services)
    await services.catalog.CancelTrainingSession(
        cpb.CancelTrainingSessionRequest(name=session.name, reason="the presenter is ill"),
        metadata=services.editor,
    )
    notice = await pending_notice(services, pb.BATCH_PURPOSE_CANCELLED)
    assert notice.notice_reason == "the presenter is ill"
    assert len(notice.drafts) == len(invitations.drafts)
    body = notice.drafts[0].content.text_body
    assert "has been cancelled" in body and "the presenter is ill" in body
    offered = await services.catalog.ListAlternativeSessions(
        cpb.ListAlternativeSessionsRequest(name=session.name, page_size=3), metadata=services.csm
    )
    assert offered.alternatives  # courses on the same features
    for alternative in offered.alternatives:
        assert f"* {alternative.training_session.title}: " in body
    ics = icalendar.Calendar.from_ical(notice.drafts[0].content.calendar_ics)
    assert ics["METHOD"] == "CANCEL"
