"""Review: the CSM reads, edits, drops, re-renders and approves drafts; outcomes come back."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.common import page_tokens
from services.common.auth import Principal
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from services.personalizer.domain import names
from services.personalizer.domain.model import (
    OWN_TEMPLATES,
    ContactBudget,
    Content,
    DraftState,
    InvitationBatch,
    InvitationDraft,
    Purpose,
)
from services.personalizer.service_layer.customers import customer_for
from services.personalizer.service_layer.dependencies import Dependencies
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork


async def _locked_batch(
    uow: PersonalizerUnitOfWork, customer_id: str, batch_id: uuid.UUID
) -> InvitationBatch:
    batch = await uow.batches.get(customer_id, batch_id, for_update=True)
    if batch is None:
        raise NotFound(f"{names.batch_name(customer_id, batch_id)} does not exist")
    return batch


async def get_batch(deps: Dependencies, name: str, principal: Principal) -> InvitationBatch:
    """A batch with its drafts and their delivery state."""
    customer_id, batch_id = names.batch_id(name)
    async with deps.uow() as uow:
        await customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id)
    if batch is None:
        raise NotFound(f"{name} does not exist")
    return batch


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
        await customer_for(uow, customer_id, principal)
        ids = await uow.batches.page_for_customer(customer_id, limit + 1, after, pending_only)
        batches = [b for i in ids[:limit] if (b := await uow.batches.get(customer_id, i))]
    next_token = ""
    if len(ids) > limit and batches:
        last = batches[-1]
        next_token = page_tokens.encode(
            {"c": last.created_at.isoformat(), "i": str(last.id)}, query
        )
    return BatchPage(batches, next_token)


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
    html = None
    if "content.html_body" in paths:
        # Only the sanitized HTML is stored, so only it can be sent.
        html = await deps.renderer.clean_html(new_content.html_body)
    async with deps.uow() as uow:
        await customer_for(uow, customer_id, principal)
        batch = await _locked_batch(uow, customer_id, batch_id)
        current = batch.draft(draft_id).content
        edited = Content(
            subject=new_content.subject if "content.subject" in paths else current.subject,
            text_body=new_content.text_body if "content.text_body" in paths else current.text_body,
            html_body=html if html is not None else current.html_body,
            calendar_ics=current.calendar_ics,
        )
        draft = batch.edit_draft(draft_id, edited, etag, principal.subject)
        await uow.batches.save(batch)
        await uow.batches.log(batch.id, draft.id, "edited", principal.subject, ",".join(paths))
        await uow.commit()
    return draft


async def drop_draft(
    deps: Dependencies, name: str, etag: str, principal: Principal
) -> InvitationDraft:
    """Leave one recipient out before approval."""
    customer_id, batch_id, draft_id = names.draft_id(name, "name")
    async with deps.uow() as uow:
        await customer_for(uow, customer_id, principal)
        batch = await _locked_batch(uow, customer_id, batch_id)
        draft = batch.drop_draft(draft_id, etag, principal.subject)
        await uow.batches.save(batch)
        await uow.batches.log(batch.id, draft.id, "dropped", principal.subject)
        await uow.commit()
    return draft


async def render_draft(
    deps: Dependencies,
    name: str,
    etag: str,
    subject_template: str,
    body_template: str,
    principal: Principal,
) -> InvitationDraft:
    """Render a pending invitation again: from the CSM's own templates (sandboxed), or from the
    angle's current templates when none are given."""
    customer_id, batch_id, draft_id = names.draft_id(name, "name")
    v = Violations()
    if bool(subject_template) != bool(body_template):
        v.add("body_template" if subject_template else "subject_template", "give both or neither")
    for field, value in (("subject_template", subject_template), ("body_template", body_template)):
        if len(value) > 20_000:
            v.add(field, "must be at most 20,000 characters")
    v.raise_if_any()
    # Render first, with no transaction open and no lock held: a CSM's template may take up to
    # its time limit, and the batch stays free for everyone else meanwhile. The variables a
    # draft renders with are fixed when it is drafted, so reading them unlocked is safe.
    async with deps.uow() as uow:
        await customer_for(uow, customer_id, principal)
        batch = await uow.batches.get(customer_id, batch_id)
        if batch is None:
            raise NotFound(f"{names.batch_name(customer_id, batch_id)} does not exist")
        context = _render_context(batch, draft_id)
    subject, text, html = (
        await deps.renderer.render_own(subject_template, body_template, context)
        if subject_template
        else deps.renderer.render_angle(batch.draft(draft_id).angle, context)
    )
    async with deps.uow() as uow:
        batch = await _locked_batch(uow, customer_id, batch_id)
        calendar_ics = batch.draft(draft_id).content.calendar_ics
        version = (
            OWN_TEMPLATES
            if subject_template
            else deps.renderer.template_version(batch.draft(draft_id).angle)
        )
        draft = batch.edit_draft(
            draft_id, Content(subject, text, html, calendar_ics), etag, principal.subject, version
        )
        await uow.batches.save(batch)
        await uow.batches.log(
            batch.id,
            draft.id,
            "rendered",
            principal.subject,
            "own" if subject_template else "angle",
        )
        await uow.commit()
    return draft


def _render_context(batch: InvitationBatch, draft_id: uuid.UUID) -> dict[str, Any]:
    """The variables a draft of an invitation renders with."""
    if batch.purpose is not Purpose.INVITATION:
        raise FailedPrecondition("only invitations are rendered from templates")
    draft = batch.draft(draft_id)
    if not draft.render_context:
        raise FailedPrecondition("this draft has no stored variables to render with")
    return draft.render_context


async def approve_batch(
    deps: Dependencies,
    name: str,
    etag: str,
    draft_names: list[str],
    principal: Principal,
    send_after: dt.datetime | None = None,
    budget_overrides: Mapping[str, str] | None = None,
    leave_out_over_budget: bool = False,
) -> InvitationBatch:
    """Record the approval (all pending drafts, or the chosen ones) and freeze their content;
    the batch's InvitationApproved events reach the dispatcher through the same commit.

    The contact budget is checked against every invitation approved in the frequency cap's
    window, with the approvals for one customer waiting for each other: two batches holding one
    person, approved at the same moment, cannot both reach them."""
    customer_id, batch_id = names.batch_id(name)
    only: set[uuid.UUID] | None = None
    if draft_names:
        only = set()
        for i, draft_name in enumerate(draft_names):
            c, b, d = names.draft_id(draft_name, f"drafts[{i}]")
            if (c, b) != (customer_id, batch_id):
                raise InvalidArgument.single(f"drafts[{i}]", "is not a draft of this batch")
            only.add(d)
    async with deps.uow() as uow:
        await customer_for(uow, customer_id, principal)
        batch = await _locked_batch(uow, customer_id, batch_id)
        now = deps.clock()
        if send_after is not None and send_after > now + dt.timedelta(days=365):
            raise InvalidArgument.single("send_time", "must be within a year")
        budget = await _contact_budget(
            deps, uow, batch, only, now, budget_overrides or {}, leave_out_over_budget
        )
        pending = {x.id for x in batch.drafts if x.state is DraftState.PENDING_REVIEW}
        approved = batch.approve(principal.subject, now, etag, only, send_after, budget)
        await uow.batches.save(batch)
        approved_ids = {d.id for d in approved}
        for draft in batch.drafts:
            person = draft.recipient.stakeholder_id
            if draft.id in approved_ids and person in budget.recent and person in budget.overrides:
                await uow.batches.log(
                    batch.id,
                    draft.id,
                    "contact budget overridden",
                    principal.subject,
                    budget.overrides[person],
                )
            elif draft.id in pending and draft.state is DraftState.DROPPED:
                await uow.batches.log(
                    batch.id,
                    draft.id,
                    "left out over the contact budget",
                    principal.subject,
                    budget.recent.get(person, ""),
                )
        if approved:
            await uow.batches.log(
                batch.id, None, "approved", principal.subject, f"{len(approved)} drafts"
            )
        await uow.commit()
    return batch


async def _contact_budget(
    deps: Dependencies,
    uow: PersonalizerUnitOfWork,
    batch: InvitationBatch,
    only: set[uuid.UUID] | None,
    now: dt.datetime,
    overrides: Mapping[str, str],
    leave_out: bool,
) -> ContactBudget:
    """Who among the people about to be approved was approved an invitation within the
    frequency cap's window, read once every other approval for the customer has committed (a
    person is one customer's: two approvals reaching them wait for each other)."""
    window = deps.policy.frequency_cap_days
    if window <= 0 or batch.purpose is not Purpose.INVITATION:  # the cap is off, or not spent
        return ContactBudget(window, {}, dict(overrides), leave_out)
    people = sorted(
        {
            d.recipient.stakeholder_id
            for d in batch.drafts
            if d.state is DraftState.PENDING_REVIEW and (only is None or d.id in only)
        }
    )
    await uow.batches.lock_approvals(batch.customer_id)
    recent = await uow.batches.invited_since(people, now - dt.timedelta(days=window))
    return ContactBudget(window, recent, dict(overrides), leave_out)
