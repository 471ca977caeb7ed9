"""Drafting: who to invite to a session and one personalized draft each, held for review."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass

from services.common.auth import Principal
from services.common.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Violations,
)
from services.personalizer.domain import names
from services.personalizer.domain.model import (
    Angle,
    Customer,
    Exclusion,
    ExclusionReason,
    InvitationBatch,
    InvitationDraft,
    Invitee,
    Notice,
    Purpose,
    Recipient,
    SelectionReason,
    Sender,
    SessionInfo,
    Stakeholder,
)
from services.personalizer.domain.selection import Assessment, assess
from services.personalizer.service_layer.dependencies import Dependencies, customer_for
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
    session: SessionInfo,
    alternatives: tuple[SessionInfo, ...],
    by: str,
    now: dt.datetime,
) -> InvitationDraft:
    draft_id = uuid.uuid4()
    content, link, context = deps.renderer.render(a, customer, session, draft_id, now, alternatives)
    p = a.stakeholder
    return InvitationDraft(
        id=draft_id,
        recipient=Recipient(p.id, p.display_name, p.email or "", p.role, p.title, p.time_zone),
        score=a.score,
        reasons=a.reasons,
        angle=a.angle,
        talking_points=a.talking_points,
        content=content,
        registration_url=link,
        updated_by=by,
        render_context=context,
    )


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
        )
        if isinstance(outcome, Assessment):
            chosen.append(outcome)
        else:
            excluded.append(outcome)
    chosen.sort(key=lambda a: a.score, reverse=True)
    return chosen, excluded


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
    first batch. A batch made by a trigger is announced with a DraftsReady event."""
    now = deps.clock()
    if session.start_time <= now:
        raise FailedPrecondition(f"{session.name} has already started")
    alternatives = tuple(await deps.catalog.alternatives(session.name))
    async with deps.uow() as uow:
        people = await uow.platform.stakeholders(customer.id)
        if selection.only is not None:
            people = [p for p in people if p.id in selection.only]
        chosen, excluded = await _assessments(deps, uow, customer, session, people, selection)
        batch = InvitationBatch(
            id=uuid.uuid4(),
            customer_id=customer.id,
            customer_name=customer.display_name,
            session=session,
            sender=Sender(customer.csm_email, customer.csm_name),
            created_by=by,
            created_at=now,
            drafts=[_draft(deps, a, customer, session, alternatives, by, now) for a in chosen],
            excluded=excluded,
            source_event_id=source_event_id,
        )
        if not await uow.batches.add(batch, request_id):
            existing = await uow.batches.id_for(customer.id, request_id, source_event_id)
            assert existing is not None
            found = await uow.batches.get(customer.id, existing)
            assert found is not None
            return found
        await uow.batches.log(batch.id, None, "created", by, trigger or "drafted")
        if trigger:
            uow.publish(deps.encode_drafts_ready(batch, trigger))
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
    """Put a left-out stakeholder back in, with a draft of their own (never an opted-out one)."""
    customer_id, batch_id = names.batch_id(batch_name, "batch")
    now = deps.clock()
    async with deps.uow() as uow:
        customer = await customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id, for_update=True)
        if batch is None:
            raise NotFound(f"{batch_name} does not exist")
        if etag and etag != batch.etag:
            raise Aborted(f"batch changed since it was read (etag {batch.etag}, given {etag})")
        left_out = next((e for e in batch.excluded if e.stakeholder.id == stakeholder_id), None)
        if left_out is None:
            raise InvalidArgument.single("stakeholder", "is not among the stakeholders left out")
        if left_out.reason in (
            ExclusionReason.OPTED_OUT,
            ExclusionReason.NO_EMAIL,
            ExclusionReason.ALREADY_INVITED,
            ExclusionReason.SUPPRESSED,
        ):
            raise FailedPrecondition(f"{left_out.stakeholder.display_name}: {left_out.detail}")
        person = left_out.stakeholder
        features = sorted(set(customer.entitlements) | set(batch.session.features))
        adoption = await adoption_of(
            deps, uow, customer, [person], deps.policy.default_window_days, features
        )
        outcome = assess(person, customer, batch.session, adoption[person.id], False, force=True)
        if not isinstance(outcome, Assessment):
            raise FailedPrecondition(f"{person.display_name}: {outcome.detail}")
        alternatives = tuple(await deps.catalog.alternatives(batch.session.name))
        draft = _draft(deps, outcome, customer, batch.session, alternatives, principal.subject, now)
        batch.add_draft(draft, stakeholder_id)
        await uow.batches.save(batch)
        await uow.batches.add_drafts(batch, [draft])
        await uow.batches.log(batch.id, draft.id, "recipient_added", principal.subject, person.id)
        await uow.commit()
    return draft


# Platform triggers ----------------------------------------------------------------------------


async def _system_customer(deps: Dependencies, customer_id: str) -> Customer | None:
    async with deps.uow() as uow:
        return await uow.platform.customer(customer_id)


async def on_feature_released(
    deps: Dependencies, event_id: uuid.UUID, feature: str, customer_ids: list[str]
) -> int:
    """Invite those who would use a newly released feature, per entitled customer."""
    sessions = await deps.catalog.upcoming(feature=feature, limit=1)
    if not sessions:
        return 0
    async with deps.uow() as uow:
        entitled = await uow.platform.customers_entitled_to(feature, customer_ids)
    made = 0
    for customer_id in entitled:
        customer = await _system_customer(deps, customer_id)
        if customer is not None:
            await compose_batch(
                deps,
                customer,
                sessions[0],
                "trigger:feature_released",
                Selection(angle=Angle.NEW_FEATURE),
                source_event_id=event_id,
                trigger="feature_released",
            )
            made += 1
    return made


async def on_low_adoption(
    deps: Dependencies, event_id: uuid.UUID, customer_id: str, feature: str
) -> int:
    """Invite the customer's people with a gap on the feature to the next session on it."""
    customer = await _system_customer(deps, customer_id)
    if customer is None:
        return 0
    # A gap is closed by the basics: the next beginner session on the feature, else the next
    # intermediate one, else any.
    session = None
    for level in ("beginner", "intermediate", ""):
        found = await deps.catalog.upcoming(feature=feature, level=level, limit=1)
        if found:
            session = found[0]
            break
    if session is None:
        return 0
    await compose_batch(
        deps,
        customer,
        session,
        "trigger:low_adoption",
        Selection(angle=Angle.CLOSE_GAP, require_gap_on=feature),
        source_event_id=event_id,
        trigger="low_adoption",
    )
    return 1


async def on_onboarding_scheduled(
    deps: Dependencies,
    event_id: uuid.UUID,
    customer_id: str,
    stakeholder_ids: list[str],
    training_session: str,
) -> int:
    """Invite new users to their onboarding session (or the next beginner session)."""
    customer = await _system_customer(deps, customer_id)
    if customer is None or not stakeholder_ids:
        return 0
    if training_session:
        session = await deps.catalog.get(training_session)
    else:
        beginner = await deps.catalog.upcoming(level="beginner", limit=1)
        if not beginner:
            return 0
        session = beginner[0]
    await compose_batch(
        deps,
        customer,
        session,
        "trigger:onboarding_scheduled",
        Selection(only=frozenset(stakeholder_ids), angle=Angle.ONBOARDING),
        source_event_id=event_id,
        trigger="onboarding_scheduled",
    )
    return 1


# Notices of session changes -------------------------------------------------------------------


async def notify_session_change(deps: Dependencies, notice: Notice) -> int:
    """Draft a notice for everyone invited to a changed session, one batch per customer, held
    for the CSM's review like any invitation. Returns how many batches were created; a repeated
    event creates none."""
    if notice.purpose is Purpose.CANCELLED and not notice.alternatives:
        notice = dataclasses.replace(
            notice, alternatives=tuple(await deps.catalog.alternatives(notice.session.name))
        )
    now = deps.clock()
    created = 0
    async with deps.uow() as uow:
        by_customer: dict[str, list[Invitee]] = {}
        for invitee in await uow.batches.invitees(notice.session.name):
            by_customer.setdefault(invitee.customer_id, []).append(invitee)
        for customer_id, people in by_customer.items():
            customer = await uow.platform.customer(customer_id)
            if customer is None:
                continue  # the platform no longer knows the customer: nobody to write to
            drafts = [
                InvitationDraft(
                    id=uuid.uuid4(),
                    recipient=p.recipient,
                    score=1.0,
                    reasons=[SelectionReason("invited", 1.0, "Invited to this session")],
                    angle=p.angle,
                    talking_points=[],
                    content=deps.renderer.render_notice(
                        notice, p.recipient, p.registration_url, customer, now
                    ),
                    registration_url=p.registration_url,
                    updated_by=notice.changed_by,
                )
                for p in people
            ]
            batch = InvitationBatch(
                id=uuid.uuid4(),
                customer_id=customer.id,
                customer_name=customer.display_name,
                session=notice.session,
                sender=Sender(customer.csm_email, customer.csm_name),
                created_by=notice.changed_by or "catalog",
                created_at=now,
                drafts=drafts,
                excluded=[],
                purpose=notice.purpose,
                notice_reason=notice.reason,
                source_event_id=notice.event_id,
            )
            if await uow.batches.add(batch, None):
                created += 1
                await uow.batches.log(batch.id, None, "created", batch.created_by, notice.purpose)
                uow.publish(deps.encode_drafts_ready(batch, f"session_{notice.purpose.value}"))
        await uow.commit()
    return created
