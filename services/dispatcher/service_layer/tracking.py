"""Tracking each sent invitation: registration and attendance facts in, the CSM's views out.

Facts arrive in batches (AttendanceRecorded from webinar tools, attendance reports and
registration links; RegistrationChanged from the catalog) and a batch is applied in one unit of
work, each fact once by its event id.

Which invitation a fact is about:
- A fact naming an invitation is about that invitation. If the dispatcher never had it, the
  fact is refused (NotFound: the consumer dead-letters it with the reason), and so is one whose
  session is not the invitation's (InvalidArgument). One made at another address than the
  invitation's recipient is someone the invitation was forwarded to: not an invitee, so it is
  counted and left out.
- A fact naming no invitation is matched by session and address to every delivery of that
  session to that address (one per batch that invited the person).
- A fact naming no invitation that matches no delivery is about someone who was never invited
  (a forwarded registration link, a walk-in the webinar tool reports, a registration made in
  the catalog): it is acknowledged and counted in one log line per batch, never dead-lettered.
  Webinar tools and registration pages see many such people, and dead-lettering each would
  bury the letters that need someone's attention.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.auth import Principal
from services.common.errors import InvalidArgument, NotFound
from services.dispatcher.domain import names
from services.dispatcher.domain.tracking import Counts, InvitationStatus, Tracking, TrackingFact
from services.dispatcher.service_layer.dependencies import Dependencies
from services.dispatcher.service_layer.ports import Invited

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    """What one batch did."""

    facts: int = 0
    # Applied before (redelivered, replayed, or given twice in the batch).
    repeated: int = 0
    # About people never invited, or someone an invitation was forwarded to.
    not_invited: int = 0
    changed: int = 0


def _targets(
    fact: TrackingFact,
    by_invitation: dict[str, Invited],
    by_person: dict[tuple[str, str], list[Invited]],
) -> list[Invited]:
    """The invitations a fact is about; NotFound or InvalidArgument when it names one wrongly."""
    if not fact.invitation:
        return by_person.get((fact.training_session, fact.email), [])
    invited = by_invitation.get(fact.invitation)
    if invited is None:
        raise NotFound(f"no invitation {fact.invitation} was sent (to {fact.email})")
    if invited.training_session != fact.training_session:
        raise InvalidArgument.single(
            "training_session",
            f"{fact.invitation} invited to {invited.training_session}, not {fact.training_session}",
        )
    return [invited] if invited.recipient_email == fact.email else []


async def apply_facts(deps: Dependencies, facts: Sequence[TrackingFact]) -> Applied:
    """Apply a batch of facts in one unit of work; all or nothing."""
    async with deps.uow() as uow:
        fresh = await uow.first_times([f.event_id for f in facts])
        todo: list[TrackingFact] = []
        for fact in facts:
            if fact.event_id in fresh:
                todo.append(fact)
                fresh.discard(fact.event_id)  # the same event twice in one batch: once
        invited = await uow.tracking.invited(
            sorted({f.invitation for f in todo if f.invitation}),
            sorted({(f.training_session, f.email) for f in todo if not f.invitation}),
        )
        by_invitation = {i.invitation: i for i in invited}
        by_person: dict[tuple[str, str], list[Invited]] = {}
        for i in invited:
            by_person.setdefault((i.training_session, i.recipient_email), []).append(i)
        current = await uow.tracking.get_many(sorted(by_invitation))
        changed: dict[str, Tracking] = {}
        not_invited = 0
        for fact in todo:
            targets = _targets(fact, by_invitation, by_person)
            not_invited += not targets
            for target in targets:
                tracking = current.setdefault(target.invitation, Tracking(target.invitation))
                if tracking.apply(fact):
                    changed[target.invitation] = tracking
        await uow.tracking.save_many(list(changed.values()))
        await uow.commit()
    applied = Applied(len(facts), len(facts) - len(todo), not_invited, len(changed))
    if not_invited:
        _log.info(
            "facts about people never invited left out",
            extra={"count": not_invited, "facts": len(facts)},
        )
    return applied


@dataclass(frozen=True)
class BatchTracking:
    invitations: list[InvitationStatus]
    counts: Counts


@dataclass(frozen=True)
class SessionTracking:
    counts: Counts
    # (customer id, counts), by customer id.
    customers: list[tuple[str, Counts]]


async def batch_tracking(deps: Dependencies, name: str, principal: Principal) -> BatchTracking:
    """Every invitation of one batch and how far it went, for the CSM who sent it. A batch that
    is not the caller's reads as one with no deliveries: NotFound, the same for every batch the
    caller cannot see."""
    batch = names.batch_of_tracking(name)
    async with deps.uow() as uow:
        rows = await uow.tracking.of_batch(batch)
    if not rows or not all(principal.may_act_for(sender) for sender, _ in rows):
        raise NotFound(f"{batch} has no deliveries")
    invitations = [status for _, status in rows]
    return BatchTracking(invitations, Counts.of(invitations))


async def session_tracking(deps: Dependencies, name: str, principal: Principal) -> SessionTracking:
    """The caller's invitations to one session, counted in all and by customer. A session the
    caller invited nobody to reads as all zeros, whether or not it exists."""
    session = names.session_of_tracking(name)
    async with deps.uow() as uow:
        statuses = await uow.tracking.of_session(session, principal.subject)
    customers: dict[str, list[InvitationStatus]] = {}
    for status in statuses:
        customers.setdefault(status.customer_id, []).append(status)
    return SessionTracking(
        Counts.of(statuses), [(c, Counts.of(s)) for c, s in sorted(customers.items())]
    )
