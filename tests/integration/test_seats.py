"""Seats and the waitlist over gRPC on real PostgreSQL and JetStream: many people registering at
once never overbook a session, and the waitlist moves up in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from trainvite.catalog.v1 import catalog_pb2 as pb
from trainvite.events.v1 import events_pb2

from services.common.messaging.topology import Topology
from tests.helpers import Clients
from tests.integration.catalog_data import in_days, new_course, new_session
from tests.integration.event_checks import published
from tests.integration.test_api_errors import bad_fields
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration

REGISTERED = pb.REGISTRATION_STATE_REGISTERED
WAITLISTED = pb.REGISTRATION_STATE_WAITLISTED
CANCELLED = pb.REGISTRATION_STATE_CANCELLED


@pytest.fixture
async def moves(
    nats_url: str, namespace: str
) -> AsyncIterator[list[events_pb2.RegistrationChanged]]:
    """Every RegistrationChanged the catalog publishes during the test, in order."""
    subject = Topology(namespace).registration_changed
    async with published(nats_url, subject, events_pb2.RegistrationChanged) as seen:
        yield seen


async def _moves_of(
    moves: list[events_pb2.RegistrationChanged], session: str, count: int
) -> list[events_pb2.RegistrationChanged]:
    async def arrived() -> list[events_pb2.RegistrationChanged] | NotYet:
        mine = [m for m in moves if m.training_session == session]
        return mine if len(mine) >= count else NotYet(len(mine))

    found = await wait_for(arrived, f"{count} registration moves", timeout=20)
    await asyncio.sleep(0.5)  # nothing more than expected arrives
    return [m for m in moves if m.training_session == session] if found else []


async def test_concurrent_registrations_fill_the_seats_then_the_waitlist_in_order(
    services: Clients, moves: list[events_pb2.RegistrationChanged]
) -> None:
    session = await new_session(services, await new_course(services), in_days(20), capacity=10)
    emails = [f"person{i:02d}@seats.example" for i in range(50)]

    async def register(email: str) -> pb.Registration:
        return await services.catalog.RegisterForSession(
            pb.RegisterForSessionRequest(training_session=session.name, email=email),
            metadata=services.service,
        )

    answers = await asyncio.gather(*(register(e) for e in emails))
    seated = [a for a in answers if a.state == REGISTERED]
    waiting = sorted(
        (a for a in answers if a.state == WAITLISTED), key=lambda a: a.update_time.ToNanoseconds()
    )
    assert len(seated) == 10 and len(waiting) == 40
    assert all(a.waitlist_position == 0 for a in seated)
    assert sorted(a.waitlist_position for a in waiting) == list(range(1, 41))
    got = await services.catalog.GetTrainingSession(
        pb.GetTrainingSessionRequest(name=session.name), metadata=services.csm
    )
    assert (got.seats_taken, got.seats_left, got.full) == (10, 0, True)

    # Registering again answers the registration as it stands.
    first_waiting = next(a for a in waiting if a.waitlist_position == 1)
    again = await register(first_waiting.email.upper())
    assert (again.state, again.waitlist_position) == (WAITLISTED, 1)

    # Three seats given up go to the first three people waiting, in order.
    by_place = {a.waitlist_position: a.email for a in waiting}
    leaving = [a.email for a in seated[:3]]
    for email in leaving:
        cancelled = await services.catalog.CancelRegistration(
            pb.CancelRegistrationRequest(training_session=session.name, email=email),
            metadata=services.service,
        )
        assert (cancelled.state, cancelled.waitlist_position) == (CANCELLED, 0)
    for place in (1, 2, 3):
        promoted = await services.catalog.GetRegistration(
            pb.GetRegistrationRequest(training_session=session.name, email=by_place[place]),
            metadata=services.csm,
        )
        assert promoted.state == REGISTERED
    fourth = await services.catalog.GetRegistration(
        pb.GetRegistrationRequest(training_session=session.name, email=by_place[4]),
        metadata=services.service,
    )
    assert (fourth.state, fourth.waitlist_position) == (WAITLISTED, 1)
    got = await services.catalog.GetTrainingSession(
        pb.GetTrainingSessionRequest(name=session.name), metadata=services.csm
    )
    assert (got.seats_taken, got.seats_left) == (10, 0)

    # JetStream: one move per registration, then one per cancellation and one per promotion.
    published = await _moves_of(moves, session.name, 56)
    assert len(published) == 56
    per_person: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for m in published:
        per_person[m.email].append((m.previous_state, m.state, m.waitlist_position))
    unspecified = pb.REGISTRATION_STATE_UNSPECIFIED
    for a in seated:
        expected = [(unspecified, REGISTERED, 0)]
        if a.email in leaving:
            expected.append((REGISTERED, CANCELLED, 0))
        assert per_person[a.email] == expected
    for a in waiting:
        expected = [(unspecified, WAITLISTED, a.waitlist_position)]
        if a.waitlist_position <= 3:
            expected.append((WAITLISTED, REGISTERED, 0))
        assert per_person[a.email] == expected
    # Each seat given up is published before the promotion it makes.
    order = [(m.email, m.state) for m in published[50:]]
    assert order == [
        pair
        for email, place in zip(leaving, (1, 2, 3), strict=True)
        for pair in ((email, CANCELLED), (by_place[place], REGISTERED))
    ]
    assert all(m.seats_left == 0 for m in published[50:] if m.state == REGISTERED)


async def test_a_larger_capacity_promotes_the_first_people_waiting(
    services: Clients, moves: list[events_pb2.RegistrationChanged]
) -> None:
    session = await new_session(services, await new_course(services), in_days(20), capacity=1)
    for i in range(4):
        await services.catalog.RegisterForSession(
            pb.RegisterForSessionRequest(
                training_session=session.name,
                email=f"p{i}@seats.example",
                invitation=f"customers/c/invitation-batches/b/drafts/d{i}",
            ),
            metadata=services.service,
        )
    await services.catalog.UpdateTrainingSession(
        pb.UpdateTrainingSessionRequest(
            training_session=pb.TrainingSession(name=session.name, capacity=3),
            update_mask=FieldMask(paths=["capacity"]),
        ),
        metadata=services.editor,
    )
    states = [
        await services.catalog.GetRegistration(
            pb.GetRegistrationRequest(training_session=session.name, email=f"p{i}@seats.example"),
            metadata=services.csm,
        )
        for i in range(4)
    ]
    assert [(r.state, r.waitlist_position) for r in states] == [
        (REGISTERED, 0),
        (REGISTERED, 0),
        (REGISTERED, 0),
        (WAITLISTED, 1),
    ]
    assert states[2].invitation == "customers/c/invitation-batches/b/drafts/d2"
    published = await _moves_of(moves, session.name, 6)
    assert [(m.email, m.state) for m in published[4:]] == [
        ("p1@seats.example", REGISTERED),
        ("p2@seats.example", REGISTERED),
    ]


async def test_refusals_of_registrations(services: Clients) -> None:
    course = await new_course(services)
    session = await new_session(services, course, in_days(20), capacity=2)

    async def code_of(call: object) -> tuple[grpc.StatusCode, set[str]]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call  # type: ignore[misc]
        fields = (
            bad_fields(err.value) if err.value.code() == grpc.StatusCode.INVALID_ARGUMENT else set()
        )
        return err.value.code(), fields

    catalog, svc = services.catalog, services.service
    assert await code_of(
        catalog.RegisterForSession(
            pb.RegisterForSessionRequest(training_session="sessions/1", email="nope"),
            metadata=svc,
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT, {"training_session", "email"})
    assert await code_of(
        catalog.RegisterForSession(
            pb.RegisterForSessionRequest(
                training_session=session.name, email="a@seats.example", invitation="drafts/x"
            ),
            metadata=svc,
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT, {"invitation"})
    assert await code_of(
        catalog.GetRegistration(
            pb.GetRegistrationRequest(training_session=session.name), metadata=svc
        )
    ) == (grpc.StatusCode.INVALID_ARGUMENT, {"email"})
    unknown = f"training-sessions/{uuid.uuid4()}"
    assert await code_of(
        catalog.RegisterForSession(
            pb.RegisterForSessionRequest(training_session=unknown, email="a@seats.example"),
            metadata=svc,
        )
    ) == (grpc.StatusCode.NOT_FOUND, set())
    for call in (catalog.GetRegistration, catalog.CancelRegistration):
        assert await code_of(
            call(
                pb.GetRegistrationRequest(
                    training_session=session.name, email="nobody@seats.example"
                ),  # type: ignore[arg-type]
                metadata=svc,
            )
        ) == (grpc.StatusCode.NOT_FOUND, set())
    # Only the edge's service token registers; a CSM may read, not register.
    assert await code_of(
        catalog.RegisterForSession(
            pb.RegisterForSessionRequest(training_session=session.name, email="a@seats.example"),
            metadata=services.csm,
        )
    ) == (grpc.StatusCode.PERMISSION_DENIED, set())

    await catalog.RegisterForSession(
        pb.RegisterForSessionRequest(training_session=session.name, email="a@seats.example"),
        metadata=svc,
    )
    await catalog.CancelTrainingSession(
        pb.CancelTrainingSessionRequest(name=session.name), metadata=services.editor
    )
    for request in (
        catalog.RegisterForSession(
            pb.RegisterForSessionRequest(training_session=session.name, email="b@seats.example"),
            metadata=svc,
        ),
        catalog.CancelRegistration(
            pb.CancelRegistrationRequest(training_session=session.name, email="a@seats.example"),
            metadata=svc,
        ),
    ):
        assert await code_of(request) == (grpc.StatusCode.FAILED_PRECONDITION, set())
