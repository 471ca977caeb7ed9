"""The dispatcher's NATS entry points: per consumed subject, its decoder and its use case."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.msg import Msg
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.fingerprint import content_sha256
from services.common.messaging import decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.common.messaging.inbound import Route, by_subject
from services.common.messaging.topology import ConsumerSpec, Topology
from services.dispatcher.domain import names
from services.dispatcher.domain.calendar import RegistrationMoved, SessionMoved, is_session_name
from services.dispatcher.domain.facts import InvitationApproved
from services.dispatcher.domain.model import ApprovedInvitation, MessagePurpose
from services.dispatcher.service_layer import calendar, invitations
from services.dispatcher.service_layer.dependencies import Dependencies
from services.dispatcher.service_layer.ports import CalendarRefusedError

T = TypeVar("T")

# UNSPECIFIED: an approval published before purposes were, when every message was an invitation.
_PURPOSES = {
    common_pb2.MESSAGE_PURPOSE_INVITATION: MessagePurpose.INVITATION,
    common_pb2.MESSAGE_PURPOSE_NOTICE: MessagePurpose.NOTICE,
    common_pb2.MESSAGE_PURPOSE_CONFIRMATION: MessagePurpose.CONFIRMATION,
}


def invitation_approved(data: bytes) -> InvitationApproved:
    """The approved invitation, or PoisonMessage saying what is wrong with the event."""
    event = decoding.parse(events_pb2.InvitationApproved, data)
    missing = [
        path
        for path in (
            "event_id",
            "invitation",
            "batch",
            "recipient.email",
            "sender.email",
            "content.subject",
            "content_sha256",
            "approved_by",
        )
        if not decoding.field_value(event, path)
    ]
    if missing or not event.HasField("approve_time"):
        raise PoisonMessage(f"missing fields: {', '.join(missing or ['approve_time'])}")
    event_id = decoding.uuid_field(event, "event_id")
    if not names.is_batch(event.batch):
        raise PoisonMessage(f"batch: {event.batch[:120]!r} is not a batch's name")
    if not names.is_draft_of(event.invitation, event.batch):
        raise PoisonMessage(f"invitation: {event.invitation[:160]!r} is not a draft of the batch")
    for path in ("recipient.email", "sender.email"):
        address = decoding.require_email(event, path)
        if not address.isascii():
            # An address outside ASCII needs SMTPUTF8 (RFC 6531) end to end, which the senders
            # do not negotiate: the message would leave with a broken To or not at all.
            raise PoisonMessage(f"{path}: {address[:80]!r} needs SMTPUTF8, which is not offered")
    c = event.content
    if content_sha256(c.subject, c.text_body, c.html_body, c.calendar_ics) != event.content_sha256:
        raise PoisonMessage("content does not match the approved content_sha256")
    approved_at = event.approve_time.ToDatetime(tzinfo=dt.UTC)
    send_after = (
        event.send_after.ToDatetime(tzinfo=dt.UTC) if event.HasField("send_after") else approved_at
    )
    approved = ApprovedInvitation(
        invitation=event.invitation,
        batch=event.batch,
        customer_id=event.customer_id,
        training_session=event.training_session,
        recipient_email=event.recipient.email,
        recipient_name=event.recipient.display_name,
        sender_email=event.sender.email,
        sender_name=event.sender.display_name,
        subject=c.subject,
        text_body=c.text_body,
        html_body=c.html_body,
        calendar_ics=c.calendar_ics,
        content_sha256=event.content_sha256,
        approved_by=event.approved_by,
        approved_at=approved_at,
        send_after=send_after,
        purpose=_PURPOSES.get(event.purpose, MessagePurpose.INVITATION),
        contact_budget_override=event.contact_budget_override.strip(),
    )
    return InvitationApproved(event_id, approved)


_CALENDAR_STATES = {
    catalog_pb2.REGISTRATION_STATE_UNSPECIFIED: "",
    catalog_pb2.REGISTRATION_STATE_REGISTERED: "registered",
    catalog_pb2.REGISTRATION_STATE_WAITLISTED: "waitlisted",
    catalog_pb2.REGISTRATION_STATE_CANCELLED: "cancelled",
    catalog_pb2.REGISTRATION_STATE_ATTENDED: "attended",
    catalog_pb2.REGISTRATION_STATE_NO_SHOW: "no_show",
}


def registration_moved(data: bytes) -> RegistrationMoved:
    """A registration's move as calendar sync takes it, or PoisonMessage saying what is wrong."""
    event, event_id = decoding.parse_event(events_pb2.RegistrationChanged, data)
    if not is_session_name(event.training_session):
        raise PoisonMessage(
            f"training_session: {event.training_session[:120]!r} is not a session's name"
        )
    email = decoding.require_email(event, "email")
    state = _CALENDAR_STATES.get(event.state)
    if not state:
        raise PoisonMessage(f"state: {event.state} is not a registration state")
    previous_state = _CALENDAR_STATES.get(event.previous_state)
    if previous_state is None:
        raise PoisonMessage(f"previous_state: {event.previous_state} is not a registration state")
    invitation = event.invitation
    if invitation and not names.is_draft_of(invitation, invitation.rpartition("/drafts/")[0]):
        raise PoisonMessage(f"invitation: {invitation[:160]!r} is not an invitation's name")
    return RegistrationMoved(
        event_id=event_id,
        training_session=event.training_session,
        email=email,
        state=state,
        previous_state=previous_state,
        invitation=invitation,
    )


_SESSION_CHANGE_KINDS = {
    events_pb2.SESSION_CHANGE_KIND_RESCHEDULED,
    events_pb2.SESSION_CHANGE_KIND_CANCELLED,
    events_pb2.SESSION_CHANGE_KIND_UPDATED,
}


def session_moved(data: bytes) -> SessionMoved:
    """A session's change as calendar sync takes it, or PoisonMessage saying what is wrong."""
    event, event_id = decoding.parse_event(events_pb2.TrainingSessionChanged, data)
    if event.kind not in _SESSION_CHANGE_KINDS:
        raise PoisonMessage(f"kind: {event.kind} is not a kind of session change")
    session = event.training_session
    if not is_session_name(session.name):
        raise PoisonMessage(
            f"training_session.name: {session.name[:120]!r} is not a session's name"
        )
    if not session.HasField("start_time"):
        raise PoisonMessage("training_session.start_time: is required")
    return SessionMoved(
        event_id=event_id,
        training_session=session.name,
        start=decoding.utc_time(session.start_time),
        time_zone=session.time_zone,
        previous_start=(
            decoding.utc_time(event.previous_start_time)
            if event.HasField("previous_start_time")
            else None
        ),
        previous_time_zone=event.previous_time_zone,
        cancelled=(
            event.kind == events_pb2.SESSION_CHANGE_KIND_CANCELLED
            or session.state == catalog_pb2.SESSION_STATE_CANCELLED
        ),
    )


def _refusals_dead_lettered(
    apply: Callable[[T], Awaitable[bool]],
) -> Callable[[T], Awaitable[bool]]:
    async def applied(change: T) -> bool:
        try:
            return await apply(change)
        except CalendarRefusedError as exc:
            # Delegation not granted, or the request refused as such: every delivery would
            # meet the same answer, so it goes to the dead letters with Google's reason.
            raise PoisonMessage(str(exc)) from exc

    return applied


async def _ignore(_: Msg) -> None:
    return None


def calendar_handler(deps: Dependencies, topology: Topology) -> MessageHandler:
    """Registrations into the CSMs' calendars; with calendar sync off, every event is
    acknowledged as it comes, and nothing is called."""
    if deps.calendar_sync is None:
        return _ignore
    sync = _refusals_dead_lettered(functools.partial(calendar.sync_registration, deps))
    return by_subject({topology.registration_changed: Route(registration_moved, sync)})


def calendar_sessions_handler(deps: Dependencies, topology: Topology) -> MessageHandler:
    """Session changes into the CSMs' calendars (moved or cancelled events); with calendar
    sync off, every event is acknowledged as it comes, and nothing is called."""
    if deps.calendar_sync is None:
        return _ignore
    follow = _refusals_dead_lettered(functools.partial(calendar.follow_session, deps))
    return by_subject({topology.session_changed: Route(session_moved, follow)})


def subscriptions(
    deps: Dependencies, topology: Topology
) -> list[tuple[ConsumerSpec, MessageHandler]]:
    """Each approved invitation becomes one delivery."""

    async def accept(approval: InvitationApproved) -> bool:
        return await invitations.accept_invitation(deps, approval)

    approvals = by_subject({topology.invitation_approved: Route(invitation_approved, accept)})
    return [
        (topology.dispatcher_invitations, approvals),
        (topology.dispatcher_calendar, calendar_handler(deps, topology)),
        (topology.dispatcher_calendar_sessions, calendar_sessions_handler(deps, topology)),
    ]
