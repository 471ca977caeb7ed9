"""Sending, at most once per delivery however often the provider fails or a worker dies.

A worker claims due deliveries, then takes each through the steps of `send_one`. The attempt is
committed as begun (its outcome unknown) before the provider is called, so whoever takes the
delivery over after a crash looks the message up before anything is sent again; and every step
acts only while the worker's claim is the current one, so a worker whose lease ran out never
sends what another has taken over.

An invitation is sent only while the person's contact budget allows it (see
domain/contact_budget.py): the check runs under a lock on the address in the transaction that
commits the attempt, so of two invitations to one person sent at once, by any workers of any
processes, the second sees the first's attempt and is suppressed, never both sent.
"""

from __future__ import annotations

import datetime as dt
import logging

from services.dispatcher.domain.contact_budget import ContactBudget
from services.dispatcher.domain.model import Delivery, DeliveryState
from services.dispatcher.service_layer.addresses import suppress
from services.dispatcher.service_layer.dependencies import Dependencies
from services.dispatcher.service_layer.ports import (
    HistoryExpiredError,
    MailboxHistory,
    OutcomeUnknownError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork

_log = logging.getLogger(__name__)

RETRY_DELAY = dt.timedelta(seconds=30)
# How soon a send whose outcome is unknown is looked up (and looked up again if that fails).
CHECK_DELAY = dt.timedelta(seconds=5)
DAY = dt.timedelta(hours=24)
# A claimed delivery waits for its mailbox's quota this long at most, its claim renewed meanwhile;
# a longer wait (a pause the provider asked for, a spent window) lets it go until then, and the
# worker goes on with its other deliveries.
LONGEST_QUOTA_HOLD = dt.timedelta(seconds=10)
QUOTA_NAP = dt.timedelta(seconds=1)


class _Done(Exception):
    """The delivery is dealt with for now: its outcome recorded, let go until later, or no
    longer this worker's."""


async def send_due(deps: Dependencies, limit: int = 20) -> int:
    """Claim due deliveries and send each; return how many were claimed."""
    claimed = await claim_due(deps, limit)
    for delivery in claimed:
        await send_one(deps, delivery)
    return len(claimed)


async def claim_due(deps: Dependencies, limit: int) -> list[Delivery]:
    async with deps.uow() as uow:
        claimed = await uow.deliveries.claim_due(deps.clock(), limit, deps.limits.lease)
        await uow.commit()
    return claimed


async def send_one(deps: Dependencies, delivery: Delivery) -> None:
    """One claimed delivery, sent at most once."""
    try:
        await _keep_claim(deps, delivery)
        await _heed_controls(deps, delivery)
        if delivery.outcome_unknown:
            await _settle_last_attempt(deps, delivery)
        await _within_daily_cap(deps, delivery)
        history_id = await _prepare(deps, delivery)
        await _begin_attempt(deps, delivery, history_id)
    except _Done:
        return
    await _send(deps, delivery)


async def _keep_claim(deps: Dependencies, delivery: Delivery) -> None:
    async with deps.uow() as uow:
        mine = await uow.deliveries.renew_claim(delivery, deps.limits.lease)
        await uow.commit()
    if not mine:
        raise _Done


async def _heed_controls(deps: Dependencies, delivery: Delivery) -> None:
    """Checked at send time, so that what was suppressed or paused after the claim is not sent."""
    async with deps.uow() as uow:
        held = await _held(deps, uow, delivery)
        await uow.commit()
    if held:
        raise _Done


async def _held(deps: Dependencies, uow: DispatcherUnitOfWork, delivery: Delivery) -> bool:
    """True when the delivery must not be sent now: its address is suppressed, or the person
    was invited within the frequency cap's window (it never will be), or its batch or mailbox
    is paused (it is let go, to be claimed once resumed)."""
    budget = _contact_budget(deps)
    now = deps.clock()
    since = budget.window_start(now) if budget.applies_to(delivery) else None
    controls = await uow.deliveries.controls(delivery, since)
    if controls.suppressed_reason is not None:
        delivery.mark_suppressed(f"address suppressed: {controls.suppressed_reason}")
        await uow.deliveries.save(delivery)
        return True
    if controls.batch_paused or controls.sender_paused:
        what = "batch" if controls.batch_paused else "mailbox"
        await uow.deliveries.retry_later(delivery, now, f"{what} paused")
        return True
    spent = budget.spent(delivery, controls.other_invitations, now)
    if spent is not None:
        # Only this invitation is held: the address stays open to notices and to the next
        # invitation once the window has passed.
        delivery.mark_suppressed(spent)
        await uow.deliveries.save(delivery)
        return True
    return False


def _contact_budget(deps: Dependencies) -> ContactBudget:
    return ContactBudget(deps.limits.frequency_cap_days)


async def _settle_last_attempt(deps: Dependencies, delivery: Delivery) -> None:
    """Look up the message of an attempt whose answer never came; go on (to send) only when it
    is certainly not at the provider."""
    try:
        found = await _look_up(deps, delivery)
    except RateLimitedError as exc:
        await _rate_limited(deps, delivery, exc)
        raise _Done from None
    except TransientSendError as exc:
        # Still unknown: look again later, never resend blind.
        await _later(deps, delivery, deps.clock() + CHECK_DELAY, f"lookup failed: {exc}")
        raise _Done from None
    if found is not None:
        delivery.mark_sent(found, deps.clock())
        await _finish(deps, delivery)
        raise _Done
    now, settle = deps.clock(), deps.limits.settle
    if now < delivery.settles_at(settle):
        reason = "not in the mailbox yet; looking again"
        await _later(deps, delivery, delivery.settles_at(settle), reason)
        raise _Done
    delivery.not_found(now, settle)


async def _within_daily_cap(deps: Dependencies, delivery: Delivery) -> None:
    now = deps.clock()
    async with deps.uow() as uow:
        sent, oldest = await uow.deliveries.sent_since(delivery.approved.sender_email, now - DAY)
    if sent >= deps.limits.daily_cap and oldest is not None:
        await _later(deps, delivery, oldest + DAY, "the mailbox's daily sending cap is reached")
        raise _Done


async def _prepare(deps: Dependencies, delivery: Delivery) -> str | None:
    """Reserve the send's quota and, before a first attempt with a mailbox history, read where
    the history stands, so that an unknown outcome can be settled from it; one reservation
    covers both calls. Nothing is sent when the history cannot be read."""
    wants_position = deps.history is not None and delivery.history_id is None
    position_cost = deps.limits.position_cost if wants_position else 0
    await _reserve(deps, delivery, deps.limits.send_cost + position_cost)
    if not wants_position or deps.history is None:
        return None
    try:
        return await deps.history.position(delivery.approved.sender_email)
    except RateLimitedError as exc:
        await _rate_limited(deps, delivery, exc)
        raise _Done from None
    except (TransientSendError, PermanentSendError) as exc:
        await _later(deps, delivery, deps.clock() + RETRY_DELAY, f"mailbox unreadable: {exc}")
        raise _Done from None


async def _begin_attempt(deps: Dependencies, delivery: Delivery, history_id: str | None) -> None:
    """Commit the attempt before the provider is called; not when the claim ran out while
    waiting (whoever holds it now sends) or a control changed meanwhile. The person's address
    is locked before the controls are read, so that an attempt committed by another worker
    meanwhile is seen."""
    async with deps.uow() as uow:
        if _contact_budget(deps).applies_to(delivery):
            await uow.deliveries.lock_contact(delivery.approved.recipient_email)
        if await _held(deps, uow, delivery):
            await uow.commit()
            raise _Done
        delivery.begin_attempt(deps.clock(), history_id)
        marked = await uow.deliveries.mark_attempt(delivery, deps.limits.lease)
        await uow.commit()
    if not marked:
        raise _Done


async def _send(deps: Dependencies, delivery: Delivery) -> None:
    """Call the provider once and record its answer."""
    approved = delivery.approved
    try:
        result = await deps.sender.send(deps.build_message(delivery))
    except PermanentSendError as exc:
        delivery.mark_failed(str(exc))
        async with deps.uow() as uow:
            await suppress(uow, approved.recipient_email, f"rejected: {exc}")
            await uow.deliveries.save(delivery)
            await uow.commit()
    except RateLimitedError as exc:
        delivery.refused()
        await _rate_limited(deps, delivery, exc)
    except OutcomeUnknownError as exc:
        _log.warning(
            "send outcome unknown, will look it up", extra={"message_id": delivery.message_id}
        )
        await _later(deps, delivery, deps.clock() + CHECK_DELAY, f"outcome unknown: {exc}")
    except TransientSendError as exc:
        delivery.refused()
        await _later(deps, delivery, deps.clock() + RETRY_DELAY, str(exc))
    else:
        delivery.mark_sent(result.provider_message_id, deps.clock())
        await _finish(deps, delivery)
        await deps.quota.went_well(deps.quota_key(approved.sender_email))


async def _finish(deps: Dependencies, delivery: Delivery) -> None:
    async with deps.uow() as uow:
        await uow.deliveries.save(delivery)
        if delivery.state is DeliveryState.SENT:
            await uow.deliveries.sending_went_well(delivery.approved.sender_email)
        await uow.commit()


async def _later(deps: Dependencies, delivery: Delivery, at: dt.datetime, reason: str) -> None:
    async with deps.uow() as uow:
        await uow.deliveries.retry_later(delivery, at, reason)
        await uow.commit()


async def _reserve(deps: Dependencies, delivery: Delivery, units: int) -> None:
    """Reserve the mailbox's quota for a call on this delivery, keeping the claim while waiting;
    a long wait lets the delivery go until then."""
    mailbox = deps.quota_key(delivery.approved.sender_email)
    while (wait := await deps.quota.try_spend(mailbox, units)) is not None:
        if wait > LONGEST_QUOTA_HOLD:
            await _later(deps, delivery, deps.clock() + wait, "waiting for the mailbox's quota")
            raise _Done
        await _keep_claim(deps, delivery)
        await deps.sleep(max(min(wait, QUOTA_NAP).total_seconds(), 0.01))


async def _rate_limited(deps: Dependencies, delivery: Delivery, exc: RateLimitedError) -> None:
    """Rest the whole mailbox for as long as the provider asked (every worker of every process
    waits, claimed work included), and take this delivery up again after it."""
    sender = delivery.approved.sender_email
    until = await deps.quota.pause(deps.quota_key(sender), exc.retry_after)
    _log.warning(
        "rate limited, mailbox resting",
        extra={"sender": sender, "until": until.isoformat(), "reason": str(exc)},
    )
    async with deps.uow() as uow:
        await uow.deliveries.hold_sender(sender, until)
        await uow.deliveries.retry_later(delivery, until, f"rate limited: {exc}")
        await uow.commit()


async def _look_up(deps: Dependencies, delivery: Delivery) -> str | None:
    """The provider's id of the delivery's message if the sender's mailbox has it: from the
    mailbox's history since the first attempt, or, where that history has expired, from the
    sender's own lookup (a search, which lags). TransientSendError when a call fails."""
    if deps.history is not None and delivery.history_id is not None:
        try:
            return await _find_in_history(deps, deps.history, delivery, delivery.history_id)
        except HistoryExpiredError:
            _log.info(
                "mailbox history expired, searching instead",
                extra={"message_id": delivery.message_id},
            )
    await _reserve(deps, delivery, deps.limits.lookup_cost)
    return await deps.sender.find(delivery.approved.sender_email, delivery.message_id)


async def _find_in_history(
    deps: Dependencies, history: MailboxHistory, delivery: Delivery, since: str
) -> str | None:
    """Page through the messages added to the sender's sent mail since `since`, reading the
    Message-ID of each one no other delivery has recorded as its own."""
    sender = delivery.approved.sender_email
    wanted = delivery.message_id.strip().strip("<>")
    page: str | None = None
    while True:
        await _reserve(deps, delivery, deps.limits.history_cost)
        listed = await history.sent_since(sender, since, page)
        async with deps.uow() as uow:
            known = await uow.deliveries.known_provider_ids(listed.provider_message_ids)
        for provider_id in listed.provider_message_ids:
            if provider_id in known:
                continue
            await _reserve(deps, delivery, deps.limits.message_cost)
            message_id = await history.message_id(sender, provider_id)
            if message_id is not None and message_id.strip().strip("<>") == wanted:
                return provider_id
        if listed.next_page is None:
            return None
        page = listed.next_page
