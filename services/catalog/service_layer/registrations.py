"""Registrations: people take seats or wait for them, cancel, and attend, whether they register
through trainvite or a webinar tool reports them. Every change locks the session's row first, so
people registering at once count its seats in turn and nobody is seated twice over."""

from __future__ import annotations

import uuid

from services.catalog.domain.model import Registration, validate_registrant
from services.catalog.domain.names import parse_session_name
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.sessions import save_seating, scheduled_session
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.attendance import AttendanceFact
from services.common.errors import InvalidArgument, NotFound, Violations


def _parse(training_session: str, email: str, invitation: str = "") -> tuple[uuid.UUID, str]:
    """The session's id and the address as stored, or InvalidArgument naming every bad field."""
    v = Violations()
    session_id = None
    try:
        session_id = parse_session_name(training_session, "training_session")
    except InvalidArgument as exc:
        v.extend(exc)
    address = ""
    try:
        address = validate_registrant(email, invitation)
    except InvalidArgument as exc:
        v.extend(exc)
    v.raise_if_any()
    assert session_id is not None
    return session_id, address


async def _as_it_stands(
    uow: CatalogUnitOfWork, session_id: uuid.UUID, email: str, name: str
) -> Registration:
    found = await uow.registrations.get(session_id, email)
    if found is None:
        raise NotFound(f"{email} has no registration for {name}")
    return found


async def register(
    deps: Dependencies, training_session: str, email: str, invitation: str
) -> Registration:
    """A seat while one is free, else the end of the waitlist; again, the registration as it
    stands."""
    session_id, address = _parse(training_session, email, invitation)
    now = deps.clock()
    async with deps.uow() as uow:
        scheduled = await scheduled_session(uow, session_id, training_session, for_update=True)
        current = await uow.registrations.get(session_id, address)
        waitlist = await uow.registrations.waitlist(session_id)
        seating = scheduled.register(
            current or Registration(session_id, address), waitlist, invitation, now
        )
        if not seating.moved:
            assert current is not None
            return current
        await save_seating(uow, seating)
        await uow.commit()
    (registered,) = seating.moved
    return registered


async def cancel(deps: Dependencies, training_session: str, email: str) -> Registration:
    """Give up a seat (the first person waiting takes it) or a place on the waitlist."""
    session_id, address = _parse(training_session, email)
    now = deps.clock()
    async with deps.uow() as uow:
        scheduled = await scheduled_session(uow, session_id, training_session, for_update=True)
        current = await _as_it_stands(uow, session_id, address, training_session)
        waitlist = await uow.registrations.waitlist(session_id)
        seating = scheduled.cancel_registration(current, waitlist, now)
        if not seating.moved:
            return current
        await save_seating(uow, seating)
        await uow.commit()
    return seating.moved[0]


async def get(deps: Dependencies, training_session: str, email: str) -> Registration:
    session_id, address = _parse(training_session, email)
    async with deps.uow() as uow:
        await scheduled_session(uow, session_id, training_session)
        return await _as_it_stands(uow, session_id, address, training_session)


async def record_attendance(deps: Dependencies, fact: AttendanceFact) -> bool:
    """Apply a registration, attendance or cancellation once; False for a repeated event."""
    session_id = parse_session_name(fact.training_session, "training_session")
    async with deps.uow() as uow:
        scheduled = await scheduled_session(uow, session_id, fact.training_session, for_update=True)
        if not await uow.first_time(fact.event_id):
            return False
        current = await uow.registrations.get(session_id, fact.email) or Registration(
            session_id, fact.email
        )
        waitlist = await uow.registrations.waitlist(session_id)
        seating = scheduled.apply_attendance(current, fact.kind, waitlist, deps.clock())
        await save_seating(uow, seating)
        await uow.commit()
    return True
