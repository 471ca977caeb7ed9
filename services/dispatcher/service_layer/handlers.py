"""The dispatcher's use cases, one function each."""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from services.common.auth import Principal
from services.common.errors import InvalidArgument, PermissionDenied, Violations
from services.common.outbox import OutboxMessage
from services.dispatcher.adapters.senders import (
    MailSender,
    OutcomeUnknownError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from services.dispatcher.domain.bounces import read_bounces
from services.dispatcher.domain.model import (
    AddressSuppressed,
    ApprovedInvitation,
    Delivery,
    DeliveryOutcome,
    DeliveryState,
)
from services.dispatcher.domain.unsubscribe import email_from_token
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork

_log = logging.getLogger(__name__)

RETRY_DELAY = dt.timedelta(seconds=30)
# How soon a send whose outcome is unknown is looked up (and looked up again if that fails).
CHECK_DELAY = dt.timedelta(seconds=5)
DAY = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Limits:
    """The mailbox's sending limits (from settings)."""

    send_cost: int = 100
    lookup_cost: int = 5
    daily_cap: int = 2_000
    # A lookup that finds nothing is trusted only this long after the attempt: a request that
    # timed out on our side may still be finishing at the provider.
    settle: dt.timedelta = dt.timedelta(seconds=60)
    # How long a worker's claim holds; a crashed worker's claims are taken over after it.
    lease: dt.timedelta = dt.timedelta(minutes=2)


class Quota(Protocol):
    async def spend(self, sender: str, units: int) -> None: ...


class BounceSource(Protocol):
    async def recent(self, mailbox: str, days: int = 7) -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], DispatcherUnitOfWork]
    sender: MailSender
    build_message: Callable[[Delivery], EmailMessage]
    encode_outcome: Callable[[DeliveryOutcome], OutboxMessage]
    encode_suppressed: Callable[[AddressSuppressed], OutboxMessage]
    clock: Callable[[], dt.datetime]
    quota: Quota
    unsubscribe_key: str
    limits: Limits = Limits()
    # Whose quota a sender address spends: its own mailbox, or the one mailbox a token file
    # authorizes whatever the From address.
    quota_key: Callable[[str], str] = str
    # Where bounce reports are read (the Gmail sender); None where there is no mailbox.
    bounces: BounceSource | None = None
    jitter: Callable[[], float] = random.random


async def accept_invitation(deps: Dependencies, approved: ApprovedInvitation) -> bool:
    """Store one delivery per approved invitation; False when it was stored before."""
    async with deps.uow() as uow:
        added = await uow.deliveries.add(Delivery.accept(approved))
        await uow.commit()
    return added


async def _record_outcome(
    deps: Dependencies, uow: DispatcherUnitOfWork, delivery: Delivery
) -> None:
    """Save the delivery's new state and queue its outcome events, in the caller's transaction."""
    await uow.deliveries.save_outcome(delivery)
    for event in delivery.events:
        uow.publish(deps.encode_outcome(event))


async def _suppress_in(
    deps: Dependencies, uow: DispatcherUnitOfWork, email: str, reason: str
) -> None:
    """Never email the address again and tell the personalizer, in the caller's transaction."""
    if await uow.deliveries.suppress(email, reason):
        uow.publish(deps.encode_suppressed(AddressSuppressed(uuid.uuid4(), email.lower(), reason)))


async def _finish(deps: Dependencies, delivery: Delivery) -> None:
    async with deps.uow() as uow:
        await _record_outcome(deps, uow, delivery)
        if delivery.state is DeliveryState.SENT:
            await uow.deliveries.sending_went_well(delivery.approved.sender_email)
        await uow.commit()


async def _later(deps: Dependencies, delivery: Delivery, at: dt.datetime, reason: str) -> None:
    async with deps.uow() as uow:
        await uow.deliveries.retry_later(delivery, at, reason)
        await uow.commit()


async def send_due(deps: Dependencies, limit: int = 20) -> int:
    """Claim due deliveries and send each; return how many were claimed."""
    async with deps.uow() as uow:
        claimed = await uow.deliveries.claim_due(deps.clock(), limit, deps.limits.lease)
        await uow.commit()
    for delivery in claimed:
        await _send_one(deps, delivery)
    return len(claimed)


async def _send_one(deps: Dependencies, delivery: Delivery) -> None:
    """One delivery, at most once: a send whose outcome is unknown is looked up first, and
    nothing is done on a delivery whose claim another worker has taken over."""
    approved = delivery.approved
    sender = approved.sender_email
    async with deps.uow() as uow:
        mine = await uow.deliveries.renew_claim(delivery, deps.limits.lease)
        await uow.commit()
    if not mine:
        return
    # Checked at send time, so an address suppressed after approval is never emailed.
    async with deps.uow() as uow:
        reason = await uow.deliveries.suppression_reason(approved.recipient_email)
    if reason is not None:
        delivery.mark_suppressed(f"address suppressed: {reason}")
        await _finish(deps, delivery)
        return

    if delivery.outcome_unknown:
        await deps.quota.spend(deps.quota_key(sender), deps.limits.lookup_cost)
        try:
            found = await deps.sender.find(sender, delivery.message_id)
        except TransientSendError as exc:
            # Still unknown: look again later, never resend blind.
            await _later(deps, delivery, deps.clock() + CHECK_DELAY, f"lookup failed: {exc}")
            return
        if found is not None:
            delivery.mark_sent(found, deps.clock())
            await _finish(deps, delivery)
            return
        settled = (delivery.attempted_at or dt.datetime.min.replace(tzinfo=dt.UTC)) + (
            deps.limits.settle
        )
        if deps.clock() < settled:
            await _later(deps, delivery, settled, "not in the mailbox yet; looking again")
            return
        delivery.outcome_unknown = False  # not in the mailbox after the settle time: resend

    now = deps.clock()
    async with deps.uow() as uow:
        sent, oldest = await uow.deliveries.sent_since(sender, now - DAY)
    if sent >= deps.limits.daily_cap and oldest is not None:
        await _later(deps, delivery, oldest + DAY, "the mailbox's daily sending cap is reached")
        return

    await deps.quota.spend(deps.quota_key(sender), deps.limits.send_cost)
    async with deps.uow() as uow:
        marked = await uow.deliveries.mark_attempt(delivery, deps.limits.lease)
        await uow.commit()
    if not marked:
        return  # our claim ran out while waiting for quota: whoever holds it now sends
    delivery.outcome_unknown = True
    try:
        result = await deps.sender.send(deps.build_message(delivery))
    except PermanentSendError as exc:
        delivery.outcome_unknown = False
        delivery.mark_failed(str(exc))
        await _suppress(deps, approved.recipient_email, f"rejected: {exc}")
        await _finish(deps, delivery)
    except RateLimitedError as exc:
        delivery.outcome_unknown = False
        async with deps.uow() as uow:
            until = await uow.deliveries.slow_down(sender, deps.clock(), deps.jitter())
            await uow.deliveries.retry_later(delivery, until, f"rate limited: {exc}")
            await uow.commit()
    except OutcomeUnknownError as exc:
        _log.warning(
            "send outcome unknown, will look it up", extra={"message_id": delivery.message_id}
        )
        await _later(deps, delivery, deps.clock() + CHECK_DELAY, f"outcome unknown: {exc}")
    except TransientSendError as exc:
        delivery.outcome_unknown = False
        await _later(deps, delivery, deps.clock() + RETRY_DELAY, str(exc))
    else:
        delivery.mark_sent(result.provider_message_id, deps.clock())
        await _finish(deps, delivery)


async def _suppress(deps: Dependencies, email: str, reason: str) -> None:
    async with deps.uow() as uow:
        await _suppress_in(deps, uow, email, reason)
        await uow.commit()


async def process_bounces(deps: Dependencies) -> int:
    """Read new bounce reports in the senders' mailboxes: each bounced address is suppressed and
    its delivery marked failed with the reason. Returns how many bounces were applied."""
    if deps.bounces is None:
        return 0
    async with deps.uow() as uow:
        senders = await uow.deliveries.recent_senders(deps.clock() - dt.timedelta(days=7))
    applied = 0
    for mailbox in {deps.quota_key(s): s for s in senders}.values():
        await deps.quota.spend(deps.quota_key(mailbox), deps.limits.lookup_cost)
        for provider_id, raw in await deps.bounces.recent(mailbox):
            async with deps.uow() as uow:
                if not await uow.deliveries.first_bounce(provider_id):
                    continue
                for bounce in read_bounces(raw):
                    reason = f"bounced: {bounce.status} {bounce.diagnostic}".strip()
                    await _suppress_in(deps, uow, bounce.recipient, reason)
                    delivery = await uow.deliveries.by_message_id(bounce.message_id)
                    if delivery is not None and delivery.state is DeliveryState.SENT:
                        delivery.claim_token = None
                        delivery.mark_failed(reason)
                        await _record_outcome(deps, uow, delivery)
                    applied += 1
                await uow.commit()
    return applied


async def unsubscribe(deps: Dependencies, token: str, email: str, reason: str) -> str:
    """Suppress the address of an unsubscribe link's token, or the address given."""
    v = Violations()
    if bool(token) == bool(email):
        v.add("token", "give the link's token or the address, not both")
    if email and "@" not in email:
        v.add("email", "is not an address")
    v.raise_if_any()
    address = email_from_token(deps.unsubscribe_key, token) if token else email.strip().lower()
    await _suppress(deps, address, reason or "unsubscribed")
    return address


_BATCH_STATUS = re.compile(
    r"(?P<batch>customers/[A-Za-z0-9_-]{1,64}/invitation-batches/[0-9a-fA-F-]{36})/delivery-status"
)


def _batch_of(name: str) -> str:
    match = _BATCH_STATUS.fullmatch(name)
    if match is None:
        raise InvalidArgument.single(
            "name", "must look like customers/{customer}/invitation-batches/{batch}/delivery-status"
        )
    return match["batch"]


def _authorize(deliveries: list[Delivery], principal: Principal, batch: str) -> None:
    for d in deliveries:
        if not principal.may_act_for(d.approved.sender_email):
            raise PermissionDenied(f"{batch} belongs to another CSM")


@dataclass(frozen=True)
class BatchStatus:
    deliveries: list[Delivery]
    paused: bool


async def batch_status(deps: Dependencies, name: str, principal: Principal) -> BatchStatus:
    """The deliveries of one batch, for its CSM or a service."""
    batch = _batch_of(name)
    async with deps.uow() as uow:
        deliveries = await uow.deliveries.for_batch(batch)
        paused = await uow.deliveries.batch_paused(batch)
    _authorize(deliveries, principal, batch)
    return BatchStatus(deliveries, paused)


async def pause_batch(
    deps: Dependencies, name: str, paused: bool, principal: Principal
) -> BatchStatus:
    """Hold (or release) a batch's unsent invitations."""
    batch = _batch_of(name)
    async with deps.uow() as uow:
        _authorize(await uow.deliveries.for_batch(batch), principal, batch)
        await uow.deliveries.set_batch_paused(batch, paused, principal.subject)
        await uow.commit()
    return await batch_status(deps, name, principal)


async def cancel_batch(deps: Dependencies, name: str, principal: Principal) -> BatchStatus:
    """Cancel a batch's unsent invitations; a sent one is never recalled."""
    batch = _batch_of(name)
    async with deps.uow() as uow:
        _authorize(await uow.deliveries.for_batch(batch), principal, batch)
        for delivery in await uow.deliveries.unsent_for_update(batch):
            delivery.mark_cancelled(principal.subject)
            await _record_outcome(deps, uow, delivery)
        await uow.commit()
    return await batch_status(deps, name, principal)


async def control_sender(
    deps: Dependencies, sender_email: str, paused: bool, principal: Principal
) -> tuple[bool, dt.datetime | None]:
    """Pause or resume everything from one mailbox; a CSM controls their own."""
    if "@" not in sender_email:
        raise InvalidArgument.single("sender_control.name", "must look like senders/{email}")
    if not principal.may_act_for(sender_email):
        raise PermissionDenied(f"{sender_email} is not {principal.subject}'s mailbox")
    async with deps.uow() as uow:
        await uow.deliveries.set_sender_paused(sender_email.lower(), paused, principal.subject)
        control = await uow.deliveries.sender_control(sender_email.lower())
        await uow.commit()
    return control
