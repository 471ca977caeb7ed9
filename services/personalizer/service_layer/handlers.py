"""The personalizer's use cases, one function each."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import asyncpg

from services.common import page_tokens
from services.common.auth import Principal
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.outbox import OutboxMessage
from services.personalizer.domain import names
from services.personalizer.domain.gaps import FeatureAdoption, Usage, classify
from services.personalizer.domain.model import (
    Content,
    Customer,
    DeliveryState,
    Exclusion,
    InvitationApproved,
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
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork

DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 365


class SessionSource(Protocol):
    """The catalog, as the personalizer asks it."""

    async def get(self, name: str) -> SessionInfo: ...

    async def best_match(self, topic: str) -> SessionInfo: ...

    async def alternatives(self, name: str, limit: int = 3) -> list[SessionInfo]: ...


class Renderer(Protocol):
    def render(
        self,
        assessment: Assessment,
        customer: Customer,
        session: SessionInfo,
        draft_id: uuid.UUID,
        now: dt.datetime,
    ) -> tuple[Content, str]: ...

    def render_notice(
        self,
        notice: Notice,
        recipient: Recipient,
        registration_url: str,
        customer: Customer,
        now: dt.datetime,
    ) -> Content: ...


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], PersonalizerUnitOfWork]
    catalog: SessionSource
    renderer: Renderer
    encode_approved: Callable[[InvitationApproved], OutboxMessage]
    clock: Callable[[], dt.datetime]


@dataclass(frozen=True)
class StakeholderAdoption:
    stakeholder: Stakeholder
    adoption: list[FeatureAdoption]


@dataclass(frozen=True)
class TrainingGaps:
    customer: Customer
    window_days: int
    stakeholders: list[StakeholderAdoption]


async def _customer_for(
    uow: PersonalizerUnitOfWork, customer_id: str, principal: Principal
) -> Customer:
    """The customer, if it exists and the caller may act on it."""
    customer = await uow.platform.customer(customer_id)
    if customer is None:
        raise NotFound(f"customers/{customer_id} does not exist")
    if not principal.may_act_for(customer.csm_email):
        raise PermissionDenied(f"customers/{customer_id} is not assigned to {principal.subject}")
    return customer


async def _adoption(
    uow: PersonalizerUnitOfWork,
    customer: Customer,
    people: list[Stakeholder],
    window_days: int,
    today: dt.date,
) -> dict[str, dict[str, FeatureAdoption]]:
    """stakeholder id -> feature -> adoption, for every feature the customer is entitled to."""
    since = today - dt.timedelta(days=window_days - 1)
    features = sorted(customer.entitlements)
    usage = await uow.platform.usage([p.id for p in people], features, since)
    benchmarks = await uow.platform.role_benchmarks(
        sorted({p.role for p in people}), features, since
    )
    return {
        p.id: {
            f: classify(f, usage.get((p.id, f), Usage()), benchmarks.get((p.role, f)), window_days)
            for f in features
        }
        for p in people
    }


async def get_training_gaps(
    deps: Dependencies, name: str, window_days: int, principal: Principal
) -> TrainingGaps:
    """Every stakeholder's adoption of every entitled feature, against role peers."""
    customer_id = names.gaps_customer_id(name)
    window = window_days or DEFAULT_WINDOW_DAYS
    if not 1 <= window <= MAX_WINDOW_DAYS:
        raise InvalidArgument.single("window_days", f"must be between 1 and {MAX_WINDOW_DAYS}")
    async with deps.uow() as uow:
        customer = await _customer_for(uow, customer_id, principal)
        people = await uow.platform.stakeholders(customer_id)
        adoption = await _adoption(uow, customer, people, window, deps.clock().date())
    return TrainingGaps(
        customer,
        window,
        [StakeholderAdoption(p, list(adoption[p.id].values())) for p in people],
    )


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
    try:
        customer_id = names.customer_id(parent)
    except InvalidArgument as exc:
        v.extend(exc)
    v.raise_if_any()
    now = deps.clock()

    async with deps.uow() as uow:
        customer = await _customer_for(uow, customer_id, principal)
        if request_id:
            existing = await uow.batches.id_for_request(customer_id, request_id)
            if existing is not None:
                batch = await uow.batches.get(customer_id, existing)
                assert batch is not None
                return batch

    # Ask the catalog outside any transaction: no connection is held during the call.
    session = (
        await deps.catalog.get(training_session)
        if training_session
        else await deps.catalog.best_match(topic)
    )
    if session.start_time <= now:
        raise FailedPrecondition(f"{session.name} has already started")

    async with deps.uow() as uow:
        people = await uow.platform.stakeholders(customer_id)
        adoption = await _adoption(uow, customer, people, DEFAULT_WINDOW_DAYS, now.date())
        invited = await uow.batches.invited_stakeholders(session.name)
        chosen: list[Assessment] = []
        excluded: list[Exclusion] = []
        for person in people:
            outcome = assess(person, customer, session, adoption[person.id], person.id in invited)
            if isinstance(outcome, Assessment):
                chosen.append(outcome)
            else:
                excluded.append(outcome)
        chosen.sort(key=lambda a: a.score, reverse=True)

        drafts = []
        for a in chosen:
            draft_id = uuid.uuid4()
            content, link = deps.renderer.render(a, customer, session, draft_id, now)
            p = a.stakeholder
            drafts.append(
                InvitationDraft(
                    id=draft_id,
                    recipient=Recipient(
                        p.id, p.display_name, p.email or "", p.role, p.title, p.time_zone
                    ),
                    score=a.score,
                    reasons=a.reasons,
                    angle=a.angle,
                    talking_points=a.talking_points,
                    content=content,
                    registration_url=link,
                    updated_by=principal.subject,
                )
            )
        batch = InvitationBatch(
            id=uuid.uuid4(),
            customer_id=customer.id,
            customer_name=customer.display_name,
            session=session,
            sender=Sender(customer.csm_email, customer.csm_name),
            created_by=principal.subject,
            created_at=now,
            drafts=drafts,
            excluded=excluded,
        )
        if not await uow.batches.add(batch, request_id or None):
            # A concurrent retry with the same request id won: answer with its batch.
            existing_id = await uow.batches.id_for_request(customer_id, request_id)
            assert existing_id is not None
            found = await uow.batches.get(customer_id, existing_id)
            assert found is not None
            return found
        await uow.commit()
    return batch


async def get_batch(deps: Dependencies, name: str, principal: Principal) -> InvitationBatch:
    """A batch with its drafts and their delivery state."""
    customer_id, batch_id = names.batch_id(name)
    async with deps.uow() as uow:
        await _customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id)
    if batch is None:
        raise NotFound(f"{name} does not exist")
    return batch


EDITABLE_PATHS = frozenset({"content.subject", "content.text_body", "content.html_body"})


async def update_draft(
    deps: Dependencies,
    name: str,
    paths: list[str],
    new_content: Content,
    etag: str,
    principal: Principal,
) -> InvitationDraft:
    """Edit a pending draft's content; the etag guards against overwriting someone else's edit."""
    customer_id, batch_id, draft_id = names.draft_id(name)
    v = Violations()
    if not paths:
        v.add("update_mask", "name at least one field to change")
    for path in paths:
        if path not in EDITABLE_PATHS:
            v.add("update_mask", f"{path!r} cannot be changed; use {sorted(EDITABLE_PATHS)}")
    v.raise_if_any()
    async with deps.uow() as uow:
        await _customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id, for_update=True)
        if batch is None:
            raise NotFound(f"customers/{customer_id}/invitation-batches/{batch_id} does not exist")
        draft = batch.draft(draft_id)
        current = draft.content
        edited = Content(
            subject=new_content.subject if "content.subject" in paths else current.subject,
            text_body=new_content.text_body if "content.text_body" in paths else current.text_body,
            html_body=new_content.html_body if "content.html_body" in paths else current.html_body,
            calendar_ics=current.calendar_ics,
        )
        draft.edit(edited, etag, principal.subject)
        batch.touch()
        await uow.batches.save(batch)
        await uow.commit()
    return draft


async def approve_batch(
    deps: Dependencies, name: str, etag: str, principal: Principal
) -> InvitationBatch:
    """Record the approval, freeze the content, and hand the invitations to the dispatcher."""
    customer_id, batch_id = names.batch_id(name)
    async with deps.uow() as uow:
        await _customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id, for_update=True)
        if batch is None:
            raise NotFound(f"{name} does not exist")
        batch.approve(principal.subject, deps.clock(), etag)
        try:
            await uow.batches.save(batch)
        except asyncpg.UniqueViolationError as exc:
            raise FailedPrecondition(
                "someone in this batch already has an approved invitation to this session"
            ) from exc
        for event in batch.events:
            uow.publish(deps.encode_approved(event))
        await uow.commit()
    return batch


async def record_delivery_outcome(
    deps: Dependencies, event_id: uuid.UUID, invitation: str, state: DeliveryState, detail: str
) -> bool:
    """Show a delivery outcome on its draft; False when the event was applied before."""
    _, _, draft_id = names.draft_id(invitation, "invitation")
    async with deps.uow() as uow:
        applied = await uow.batches.record_delivery(event_id, draft_id, state, detail)
        await uow.commit()
    return applied


@dataclass(frozen=True)
class BatchPage:
    batches: list[InvitationBatch]
    next_page_token: str


async def list_batches(
    deps: Dependencies,
    parent: str,
    size: int,
    token: str,
    pending_only: bool,
    principal: Principal,
) -> BatchPage:
    """A customer's batches, newest first."""
    customer_id = names.customer_id(parent)
    limit = page_tokens.page_size(size, 20, 100)
    query = {"parent": parent, "pending_only": pending_only}
    after = None
    if token:
        p = page_tokens.decode(token, query)
        after = (dt.datetime.fromisoformat(p["c"]), uuid.UUID(p["i"]))
    async with deps.uow() as uow:
        await _customer_for(uow, customer_id, principal)
        ids = await uow.batches.page_for_customer(customer_id, limit + 1, after, pending_only)
        batches = [b for i in ids[:limit] if (b := await uow.batches.get(customer_id, i))]
    next_token = ""
    if len(ids) > limit and batches:
        last = batches[-1]
        next_token = page_tokens.encode(
            {"c": last.created_at.isoformat(), "i": str(last.id)}, query
        )
    return BatchPage(batches, next_token)


async def notify_session_change(deps: Dependencies, notice: Notice) -> int:
    """Draft a notice for everyone invited to a changed session, one batch per customer,
    held for the CSM's review like any invitation. Returns how many batches were created; a
    repeated event creates none."""
    if notice.purpose is Purpose.CANCELLED and not notice.alternatives:
        notice = replace(
            notice, alternatives=tuple(await deps.catalog.alternatives(notice.session.name))
        )
    now = deps.clock()
    created = 0
    async with deps.uow() as uow:
        invitees = await uow.batches.invitees(notice.session.name)
        by_customer: dict[str, list[Invitee]] = {}
        for invitee in invitees:
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
            created += int(await uow.batches.add(batch, None))
        await uow.commit()
    return created
