"""Calendar sync: a registration made through an invitation puts the person on the session's
event in the inviting CSM's calendar, and a cancellation takes them off."""

from __future__ import annotations

from services.common.errors import FailedPrecondition, NotFound
from services.dispatcher.domain.calendar import (
    CalendarChange,
    RegistrationMoved,
    calendar_event_id,
)
from services.dispatcher.service_layer.dependencies import Dependencies


async def sync_registration(deps: Dependencies, move: RegistrationMoved) -> bool:
    """Apply the move to the CSM's calendar; True when the calendar changed. Nothing happens
    when calendar sync is off, for a move that changes nothing there (waitlisted, attended, no
    invitation), or for an event applied before."""
    sync = deps.calendar_sync
    change = move.change
    if sync is None or change is None:
        return False
    if change is CalendarChange.REMOVE and move.previous_state == "waitlisted":
        return False  # never had a seat, so never on the event
    # The event is marked applied in the transaction that commits only after the calendar
    # answered: a failed call leaves it unmarked for the redelivery, and a redelivery arriving
    # while the first is still being handled waits on the mark and then finds it. Holding one
    # connection over a few HTTP calls is the price; the consumer handles one event at a time.
    async with deps.uow() as uow:
        if not await uow.first_time(move.applied_key):
            return False
        inviter = await sync.inviters.of(move.invitation)
        if inviter is None:
            raise NotFound(f"{move.invitation} was never delivered by this dispatcher")
        if inviter.training_session != move.training_session:
            raise FailedPrecondition(
                f"{move.invitation} invited to {inviter.training_session},"
                f" not to {move.training_session}"
            )
        organizer = inviter.sender_email
        if change is CalendarChange.ADD:
            event = await sync.sessions.session_event(move.training_session)
            # A session cancelled since: its cancellation notice tells the person, and an
            # event created now would put it back in the CSM's calendar.
            changed = (
                False
                if event.cancelled
                else await sync.calendar.add_attendee(organizer, event, move.email)
            )
        else:
            event_id = calendar_event_id(move.training_session)
            changed = await sync.calendar.remove_attendee(organizer, event_id, move.email)
        await uow.commit()
    return changed
