"""Calendar sync: a registration made through an invitation puts the person on the session's
event in the inviting CSM's calendar, and a cancellation takes them off; the event moves with
its session, and is cancelled with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.common.errors import FailedPrecondition, NotFound
from services.dispatcher.domain.calendar import (
    CalendarChange,
    RegistrationMoved,
    SessionCalendarChange,
    SessionMoved,
    calendar_event_id,
)
from services.dispatcher.service_layer.dependencies import CalendarSync, Dependencies
from services.dispatcher.service_layer.ports import CalendarRefusedError


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


async def follow_session(deps: Dependencies, moved: SessionMoved) -> bool:
    """Move or cancel the session's event in the calendar of every CSM who invited people to
    it; True when some calendar changed. Nothing happens when calendar sync is off, for a
    change that leaves the session where it was, or for an event applied before."""
    sync = deps.calendar_sync
    change = moved.change
    if sync is None or change is None:
        return False
    # Marked applied only once every calendar answered, as for registrations: a calendar away
    # rolls the mark back, and the redelivery applies the change to all of them again (moving
    # or cancelling twice leaves the event as once).
    async with deps.uow() as uow:
        if not await uow.first_time(moved.applied_key):
            return False
        organizers = await sync.inviters.organizers(moved.training_session)
        changed = await _apply_everywhere(sync, moved, change, organizers) if organizers else False
        await uow.commit()
    return changed


async def _apply_everywhere(
    sync: CalendarSync, moved: SessionMoved, change: SessionCalendarChange, organizers: list[str]
) -> bool:
    calendar = sync.calendar
    if change is SessionCalendarChange.MOVE:
        # The session as the catalog has it now, not as the event had it: a redelivery of an
        # older reschedule arriving after a newer one must not move the event back.
        event = await sync.sessions.session_event(moved.training_session)
        if not event.cancelled:  # cancelled since: the cancellation is what the change is now
            return await _in_each_calendar(organizers, lambda o: calendar.move_event(o, event))
    event_id = calendar_event_id(moved.training_session)
    return await _in_each_calendar(organizers, lambda o: calendar.cancel_event(o, event_id))


async def _in_each_calendar(organizers: list[str], write: Callable[[str], Awaitable[bool]]) -> bool:
    """`write` to each organizer's calendar; True when one changed. One calendar refusing (a
    CSM the service account may not act as) does not keep the others at the old time: they
    are written, and the refusals raised together after them."""
    changed = False
    refusals: list[str] = []
    for organizer in organizers:
        try:
            changed = await write(organizer) or changed
        except CalendarRefusedError as exc:
            refusals.append(str(exc))
    if refusals:
        raise CalendarRefusedError("; ".join(refusals))
    return changed
