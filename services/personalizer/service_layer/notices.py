"""Notices of session changes: everyone invited to a changed session hears of it."""

from __future__ import annotations

import dataclasses

from services.personalizer.domain.model import (
    InvitationBatch,
    InvitationDraft,
    Invitee,
    Notice,
    Purpose,
)
from services.personalizer.service_layer.dependencies import Dependencies


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
        if not await uow.first_time(notice.event_id):
            return 0
        by_customer: dict[str, list[Invitee]] = {}
        for invitee in await uow.batches.invitees(notice.session.name):
            by_customer.setdefault(invitee.customer_id, []).append(invitee)
        for customer_id, people in by_customer.items():
            customer = await uow.platform.customer(customer_id)
            if customer is None:
                continue  # the platform no longer knows the customer: nobody to write to
            drafts = [
                InvitationDraft.notice(
                    deps.new_id(),
                    p,
                    deps.renderer.render_notice(
                        notice, p.recipient, p.registration_url, customer, now
                    ),
                    notice.changed_by,
                )
                for p in people
            ]
            batch = InvitationBatch.notice(deps.new_id(), customer, notice, now, drafts)
            # The batches of one event are unique per customer as well, whatever marked it.
            if await uow.batches.add(batch, None):
                created += 1
                await uow.batches.log(batch.id, None, "created", batch.created_by, notice.purpose)
        await uow.commit()
    return created
