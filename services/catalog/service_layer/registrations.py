"""Registrations and attendance as webinar tools report them: the seats each session has."""

from __future__ import annotations

from services.catalog.domain.model import Registration
from services.catalog.domain.names import parse_session_name
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.sessions import scheduled_session
from services.common.attendance import AttendanceFact


async def record_attendance(deps: Dependencies, fact: AttendanceFact) -> bool:
    """Apply a registration, attendance or cancellation once; False for a repeated event."""
    session_id = parse_session_name(fact.training_session, "training_session")
    async with deps.uow() as uow:
        # The session is locked first, so people registering at once count their seats in turn.
        scheduled = await scheduled_session(uow, session_id, fact.training_session, for_update=True)
        if not await uow.first_time(fact.event_id):
            return False
        before = await uow.registrations.get(session_id, fact.email) or Registration(
            session_id, fact.email
        )
        after = before.apply(fact.kind, scheduled.session, deps.clock())
        if after is not before:
            await uow.registrations.save(after)
            await uow.sessions.save_seats(scheduled.registration_moved(before, after))
        await uow.commit()
    return True
