"""In-memory stand-ins for what the HTTP edge calls: the catalog and the dispatcher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.edge.service_layer.ports import (
    Registration,
    RegistrationState,
    ServiceUnavailable,
    Session,
    SessionState,
)


@dataclass
class FakeCatalog:
    """Sessions by name and registrations by (session, email), with a waitlist once full."""

    sessions: dict[str, Session] = field(default_factory=dict)
    registrations: dict[tuple[str, str], Registration] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    away: bool = False
    refuse: str = ""
    # The catalog's own clock: like the real one it refuses sessions that have begun.
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.away:
            raise ServiceUnavailable("UNAVAILABLE: catalog is away")

    async def session(self, name: str) -> Session:
        self._check("session")
        if name not in self.sessions:
            raise NotFound(f"{name} does not exist")
        return self.sessions[name]

    async def registration(self, training_session: str, email: str) -> Registration | None:
        self._check("registration")
        return self.registrations.get((training_session, email.lower()))

    async def register(self, training_session: str, email: str, invitation: str) -> Registration:
        self._check("register")
        if self.refuse:
            raise FailedPrecondition(self.refuse)
        if training_session not in self.sessions:
            raise NotFound(f"{training_session} does not exist")
        session = self.sessions[training_session]
        if session.state is not SessionState.SCHEDULED or session.start <= self.clock():
            raise FailedPrecondition(f"{training_session} is cancelled or has already started")
        key = (training_session, email.lower())
        if key in self.registrations and self.registrations[key].active:
            return self.registrations[key]
        seats = self.sessions[training_session].seats_left
        taken = sum(
            1
            for (s, _), r in self.registrations.items()
            if s == training_session and r.state is RegistrationState.REGISTERED
        )
        if seats is not None and taken >= seats:
            waiting = sum(
                1
                for (s, _), r in self.registrations.items()
                if s == training_session and r.state is RegistrationState.WAITLISTED
            )
            self.registrations[key] = Registration(RegistrationState.WAITLISTED, waiting + 1)
        else:
            self.registrations[key] = Registration(RegistrationState.REGISTERED)
        return self.registrations[key]

    async def cancel(self, training_session: str, email: str) -> Registration:
        self._check("cancel")
        key = (training_session, email.lower())
        if key not in self.registrations:
            raise NotFound(f"{email} has no registration for {training_session}")
        self.registrations[key] = Registration(RegistrationState.CANCELLED)
        return self.registrations[key]


@dataclass
class FakeUnsubscriber:
    tokens: dict[str, str] = field(default_factory=dict)
    unsubscribed: list[str] = field(default_factory=list)

    async def unsubscribe(self, token: str) -> str:
        if token not in self.tokens:
            raise InvalidArgument.single("token", "is not an unsubscribe token")
        self.unsubscribed.append(self.tokens[token])
        return self.tokens[token]
