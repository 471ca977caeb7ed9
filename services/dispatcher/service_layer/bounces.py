"""Bounce reports in the senders' mailboxes."""

from __future__ import annotations

import datetime as dt

from services.dispatcher.domain.bounces import read_bounces
from services.dispatcher.domain.model import DeliveryState
from services.dispatcher.service_layer.addresses import suppress
from services.dispatcher.service_layer.dependencies import Dependencies

# How far back the senders' mailboxes are read.
RECENT = dt.timedelta(days=7)


async def process_bounces(deps: Dependencies) -> int:
    """Read new bounce reports in the senders' mailboxes: each bounced address is suppressed and
    its delivery marked failed with the reason. Returns how many bounces were applied."""
    if deps.bounces is None:
        return 0
    async with deps.uow() as uow:
        senders = await uow.deliveries.recent_senders(deps.clock() - RECENT)
    applied = 0
    for mailbox in {deps.quota_key(s): s for s in senders}.values():
        await deps.quota.spend(deps.quota_key(mailbox), deps.limits.lookup_cost)
        for provider_id, raw in await deps.bounces.recent(mailbox, RECENT.days):
            async with deps.uow() as uow:
                if not await uow.deliveries.first_bounce(provider_id):
                    continue
                for bounce in read_bounces(raw):
                    reason = f"bounced: {bounce.status} {bounce.diagnostic}".strip()
                    await suppress(uow, bounce.recipient, reason)
                    delivery = await uow.deliveries.by_message_id(bounce.message_id)
                    if delivery is not None and delivery.state is DeliveryState.SENT:
                        delivery.bounced(reason)
                        await uow.deliveries.save(delivery)
                    applied += 1
                await uow.commit()
    return applied
