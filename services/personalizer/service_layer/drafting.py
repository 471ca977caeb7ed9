"""Drafting: who to invite to a session and one personalized draft each, held for review."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from services.common.auth import Principal
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from services.personalizer.domain import names
from services.personalizer.domain.learning import AngleLearner, fitting_angles
from services.personalizer.domain.model import (
    AdoptionLevel,
    Angle,
    Customer,
    Exclusion,
    InvitationBatch,
    InvitationDraft,
    SessionInfo,
    Stakeholder,
)
from services.personalizer.domain.selection import (
    AngleChooser,
    Assessment,
    alternatives_for,
    assess,
)
from services.personalizer.service_layer.customers import customer_for
from services.personalizer.service_layer.dependencies import Dependencies
from services.personalizer.service_layer.gaps import adoption_of
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork


@dataclass(frozen=True)
class Selection:
    """How a batch picks its people: everyone, or these, with an angle or a gap imposed."""

    only: frozenset[str] | None = None
    angle: Angle | None = None
    require_gap_on: str | None = None


def _draft(
    deps: Dependencies,
    a: Assessment,
    customer: Customer,
    batch_id: uuid.UUID,
    session: SessionInfo,
    alternatives: tuple[SessionInfo, ...],
    by: str,
    now: dt.datetime,
) -> InvitationDraft:
    # Of the session's alternatives, each person is offered only those that suit them.
    alternatives = alternatives_for(a, session, alternatives)
    draft_id = deps.new_id()
    # The registration link names the draft, so the registration it makes is traced to it.
    name = names.draft_name(customer.id, batch_id, draft_id)
    content, link, context = deps.renderer.render(a, customer, session, name, now, alternatives)
    version = deps.renderer.template_version(a.angle)
    return InvitationDraft.invitation(draft_id, a, content, link, context, by, version)


async def _assessments(
    deps: Dependencies,
    uow: PersonalizerUnitOfWork,
    customer: Customer,
    session: SessionInfo,
    people: list[Stakeholder],
    selection: Selection,
) -> tuple[list[Assessment], list[Exclusion]]:
    """Everyone assessed for the session, with every rule that can leave them out."""
    now = deps.clock()
    ids = [p.id for p in people]
    adoption = await adoption_of(deps, uow, customer, people, deps.policy.default_window_days)
    invited = await uow.batches.invited_stakeholders(session.name, ids)
    recent = await uow.batches.invited_since(
        ids, now - dt.timedelta(days=deps.policy.frequency_cap_days)
    )
    suppressed = await uow.suppressions.reasons([p.email for p in people if p.email])
    trained = {
        r.stakeholder_id: f"{'Attended' if r.state == 'attended' else 'Registered for'} "
        f"{r.course_title} ({r.session_start:%b} {r.session_start.day}, {r.session_start.year})"
        for r in await uow.history.for_people(ids)
        if session.course and r.course == session.course
    }
    choose = await _angle_chooser(deps, uow)
    chosen: list[Assessment] = []
    excluded: list[Exclusion] = []
    for person in people:
        outcome = assess(
            person,
            customer,
            session,
            adoption[person.id],
            person.id in invited,
            trained=trained.get(person.id, ""),
            invited_recently=recent.get(person.id, ""),
            angle=selection.angle,
            require_gap_on=selection.require_gap_on,
            suppressed=suppressed.get((person.email or "").lower(), ""),
            choose=choose,
        )
        if isinstance(outcome, Assessment):
            chosen.append(outcome)
        else:
            excluded.append(outcome)
    chosen.sort(key=lambda a: a.score, reverse=True)
    return chosen, excluded


async def _angle_chooser(deps: Dependencies, uow: PersonalizerUnitOfWork) -> AngleChooser:
    """The angle of each person of a batch, learned from every invitation sent so far."""
    policy = deps.policy.learning
    outcomes = await uow.batches.angle_outcomes() if policy.enabled else {}
    learner = AngleLearner(outcomes, policy, deps.rng)

    def choose(person: Stakeholder, level: AdoptionLevel, rule: Angle) -> tuple[Angle, str]:
        choice = learner.choose(person.role, fitting_angles(person, level), rule)
        return choice.angle, choice.why

    return choose


async def compose_batch(
    deps: Dependencies,
    customer: Customer,
    session: SessionInfo,
    by: str,
    selection: Selection = Selection(),
    request_id: str | None = None,
    source_event_id: uuid.UUID | None = None,
    trigger: str = "",
) -> InvitationBatch:
    """Assess, render and store a batch; a repeated request id or trigger event returns the
    first batch. A batch made by a trigger is announced with a DraftsReady event. When nobody
    is left to invite (everyone already invited, say) nothing is stored or announced: the
    answer only lists who was left out and why, so no empty batch waits for review."""
    now = deps.clock()
    if session.start_time <= now:
        raise FailedPrecondition(f"{session.name} has already started")
    alternatives = tuple(await deps.catalog.alternatives(session.name))
    async with deps.uow() as uow:
        people = await uow.platform.stakeholders(customer.id)
        if selection.only is not None:
            people = [p for p in people if p.id in selection.only]
        chosen, excluded = await _assessments(deps, uow, customer, session, people, selection)
        batch_id = deps.new_id()
        batch = InvitationBatch.drafted(
            batch_id,
            customer,
            session,
            by,
            now,
            [_draft(deps, a, customer, batch_id, session, alternatives, by, now) for a in chosen],
            excluded,
            source_event_id=source_event_id,
            trigger=trigger,
        )
        if not batch.drafts:
            batch.kept = False
            return batch
        if not await uow.batches.add(batch, request_id):
            existing = await uow.batches.id_for(customer.id, request_id, source_event_id)
            assert existing is not None
            found = await uow.batches.get(customer.id, existing)
            assert found is not None
            return found
        await uow.batches.log(batch.id, None, "created", by, trigger or "drafted")
        await uow.commit()
    return batch


async def draft_invitations(
    deps: Dependencies,
    parent: str,
    training_session: str,
    topic: str,
    request_id: str,
    principal: Principal,
) -> InvitationBatch:
    """Pick the recipients for a session and draft one invitation each, held for review."""
    v = Violations()
    if not training_session and not topic.strip():
        v.add("training_session", "give a session name or a topic")
    if len(topic) > 200:
        v.add("topic", "must be at most 200 characters")
    if len(request_id) > 100:
        v.add("request_id", "must be at most 100 characters")
    customer_id = ""
    try:
        customer_id = names.customer_id(parent)
    except InvalidArgument as exc:
        v.extend(exc)
    v.raise_if_any()
    async with deps.uow() as uow:
        customer = await customer_for(uow, customer_id, principal)
        if request_id:
            existing = await uow.batches.id_for(customer_id, request_id, None)
            if existing is not None:
                found = await uow.batches.get(customer_id, existing)
                assert found is not None
                return found
    # The catalog is asked outside any transaction: no connection is held during the call.
    session = (
        await deps.catalog.get(training_session)
        if training_session
        else await deps.catalog.best_match(topic)
    )
    return await compose_batch(
        deps, customer, session, principal.subject, request_id=request_id or None
    )


async def add_recipient(
    deps: Dependencies, batch_name: str, stakeholder_id: str, etag: str, principal: Principal
) -> InvitationDraft:
    """Put a left-out stakeholder back in, with a draft of their own (never one the batch may
    not take back, see `InvitationBatch.left_out`)."""
    customer_id, batch_id = names.batch_id(batch_name, "batch")
    now = deps.clock()
    async with deps.uow() as uow:
        customer = await customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id, for_update=True)
        if batch is None:
            raise NotFound(f"{batch_name} does not exist")
        person = batch.left_out(stakeholder_id, etag)
        features = sorted(set(customer.entitlements) | set(batch.session.features))
        adoption = await adoption_of(
            deps, uow, customer, [person], deps.policy.default_window_days, features
        )
        outcome = assess(person, customer, batch.session, adoption[person.id], False, force=True)
        if not isinstance(outcome, Assessment):
            raise FailedPrecondition(f"{person.display_name}: {outcome.detail}")
        alternatives = tuple(await deps.catalog.alternatives(batch.session.name))
        draft = _draft(
            deps, outcome, customer, batch.id, batch.session, alternatives, principal.subject, now
        )
        batch.add_recipient(draft, etag)
        await uow.batches.save(batch)
        await uow.batches.log(batch.id, draft.id, "recipient_added", principal.subject, person.id)
        await uow.commit()
    return draft
