"""Confirmations over the real services: a person who registers through their invitation hears
back from the CSM who invited them, with no review, through the dispatcher; someone on the
waitlist is told their place, and told again when a seat becomes theirs."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tests.helpers import Clients, batch_when
from tests.integration.catalog_data import analytics_session
from tests.mail_checks import check_raw_message
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: both invite CloudTech's team, one approved invitation each."""
    return fresh_database_url


async def _invited(c: Clients, session: catalog_pb2.TrainingSession) -> pb.InvitationBatch:
    """CloudTech's team invited to the session, every invitation approved and sent."""
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/cloudtech", training_session=session.name),
        metadata=c.csm,
    )
    assert len(batch.drafts) >= 2
    await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, etag=batch.etag), metadata=c.csm
    )
    return await batch_when(
        c,
        batch.name,
        lambda d: d.delivery_state == common_pb2.DELIVERY_STATE_SENT,
        f"every invitation of {batch.name} sent",
        timeout=30,
    )


def _mail_to(outbox: Path, email: str) -> list[EmailMessage]:
    messages = [check_raw_message(p.read_bytes()) for p in outbox.glob("*.eml")]
    return [m for m in messages if m["To"].addresses[0].addr_spec == email]


async def _message(outbox: Path, email: str, subject_start: str) -> EmailMessage:
    """The one message to `email` whose subject starts so, once the dispatcher has sent it."""

    async def sent() -> EmailMessage | NotYet:
        mail = _mail_to(outbox, email)
        found = [m for m in mail if str(m["Subject"]).startswith(subject_start)]
        return found[0] if len(found) == 1 else NotYet([str(m["Subject"]) for m in mail])

    return await wait_for(sent, f"{subject_start!r} sent to {email}", timeout=30)


def _has_calendar(message: EmailMessage) -> bool:
    return any(part.get_content_type() == "text/calendar" for part in message.walk())


async def _register(
    c: Clients, session: str, draft: pb.InvitationDraft
) -> catalog_pb2.Registration:
    return await c.catalog.RegisterForSession(
        catalog_pb2.RegisterForSessionRequest(
            training_session=session, email=draft.recipient.email, invitation=draft.name
        ),
        metadata=c.service,
    )


async def test_a_registration_through_an_invitation_is_confirmed_with_the_calendar_entry(
    services: Clients, outbox_dir: Path
) -> None:
    session = await analytics_session(services)
    batch = await _invited(services, session)
    draft = batch.drafts[0]
    email = draft.recipient.email
    [invitation] = _mail_to(outbox_dir, email)

    registration = await _register(services, session.name, draft)
    assert registration.state == catalog_pb2.REGISTRATION_STATE_REGISTERED

    confirmation = await _message(outbox_dir, email, "You're registered:")
    assert _has_calendar(confirmation)
    # From the CSM who invited, and the calendar entry is the invitation's own.
    assert confirmation["From"].addresses[0].addr_spec == invitation["From"].addresses[0].addr_spec
    uid = [line for line in draft.content.calendar_ics.splitlines() if line.startswith("UID:")]
    calendar = next(p for p in confirmation.walk() if p.get_content_type() == "text/calendar")
    assert uid and uid[0] in calendar.get_content()
    assert confirmation["List-Unsubscribe"]
    # The CSM sees it among the customer's batches, approved by no one of theirs, and sent.
    listed = await services.personalizer.ListInvitationBatches(
        pb.ListInvitationBatchesRequest(parent="customers/cloudtech"), metadata=services.csm
    )
    [shown] = [b for b in listed.invitation_batches if b.purpose == pb.BATCH_PURPOSE_CONFIRMATION]
    assert shown.approved_by == "system:registration"
    await batch_when(
        services,
        shown.name,
        lambda d: d.delivery_state == common_pb2.DELIVERY_STATE_SENT,
        "the confirmation shown as sent",
    )
    # Registering again answers the registration as it stands: no second confirmation.
    await _register(services, session.name, draft)
    assert len(_mail_to(outbox_dir, email)) == 2


async def test_a_waitlisted_person_is_told_their_place_then_that_a_seat_is_theirs(
    services: Clients, outbox_dir: Path
) -> None:
    session = await analytics_session(services)
    # One seat, before anyone is invited (a later change would be news to the invitees).
    await services.catalog.UpdateTrainingSession(
        catalog_pb2.UpdateTrainingSessionRequest(
            training_session=catalog_pb2.TrainingSession(name=session.name, capacity=1),
            update_mask=FieldMask(paths=["capacity"]),
        ),
        metadata=services.editor,
    )
    batch = await _invited(services, session)
    first, second = batch.drafts[0], batch.drafts[1]

    await _register(services, session.name, first)
    waiting = await _register(services, session.name, second)
    assert waiting.state == catalog_pb2.REGISTRATION_STATE_WAITLISTED
    told = await _message(outbox_dir, second.recipient.email, "You're on the waitlist")
    assert "place 1" in str(told["Subject"]) and not _has_calendar(told)

    await services.catalog.CancelRegistration(
        catalog_pb2.CancelRegistrationRequest(
            training_session=session.name, email=first.recipient.email
        ),
        metadata=services.service,
    )
    promoted = await _message(outbox_dir, second.recipient.email, "A seat is yours")
    assert _has_calendar(promoted)
    body = promoted.get_body(preferencelist=("plain",))
    assert body is not None and "it is yours" in body.get_content()
