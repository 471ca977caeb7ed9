"""The dispatcher's use cases, one function each."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from services.common.auth import CallerKind, Principal
from services.common.errors import InvalidArgument, NotFound, PermissionDenied, Violations
from services.common.outbox import OutboxMessage
from services.dispatcher.adapters.senders import (
    HistoryExpiredError,
    MailboxHistory,
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
# A claimed delivery waits for its mailbox's quota this long at most, its claim renewed meanwhile;
# a longer wait (a pause the provider asked for, a spent window) lets it go until then, and the
# worker goes on with its other deliveries.
LONGEST_QUOTA_HOLD = dt.timedelta(seconds=10)
QUOTA_NAP = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Limits:
    """The mailbox's sending limits (from settings)."""

    # Quota units per call (Gmail's published costs): messages.send, an rfc822msgid: search
    # (messages.list), users.getProfile, users.history.list and messages.get.
    send_cost: int = 100
    lookup_cost: int = 5
    position_cost: int = 1
    history_cost: int = 2
    message_cost: int = 5
    daily_cap: int = 2_000
    # A lookup that finds nothing is trusted only this long after the attempt: a request that
    # timed out on our side may still be finishing at the provider.
    settle: dt.timedelta = dt.timedelta(seconds=60)
    # How long a worker's claim holds; a crashed worker's claims are taken over after it.
    lease: dt.timedelta = dt.timedelta(minutes=2)


class Quota(Protocol):
    async def try_spend(self, mailbox: str, units: int) -> dt.timedelta | None:
        """Record the call if it fits the mailbox's budget now (None), else how long until it
        might."""
        ...

    async def spend(self, mailbox: str, units: int) -> None:
        """Wait until the call fits the mailbox's budget, and record it."""
        ...

    async def pause(self, mailbox: str, retry_after: dt.timedelta | None) -> dt.datetime:
        """Rest the mailbox after a rate-limit answer; when it may call again."""
        ...

    async def went_well(self, mailbox: str) -> None: ...


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
    # The mailbox history unknown outcomes are settled from; None where the provider has none
    # (then the sender's own lookup settles them).
    history: MailboxHistory | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


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
    mailbox = deps.quota_key(sender)
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
        try:
            found = await _look_up(deps, delivery)
        except _LetGo:
            return
        except RateLimitedError as exc:
            await _rate_limited(deps, delivery, exc)
            return
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

    # The mailbox's history position comes first, so that an unknown outcome can be settled
    # from the history; one reservation covers both calls.
    wants_position = deps.history is not None and delivery.history_id is None
    position_cost = deps.limits.position_cost if wants_position else 0
    if not await _reserve(deps, delivery, deps.limits.send_cost + position_cost):
        return
    history_id = delivery.history_id
    if wants_position and deps.history is not None:
        try:
            history_id = await deps.history.position(sender)
        except RateLimitedError as exc:
            await _rate_limited(deps, delivery, exc)
            return
        except (TransientSendError, PermanentSendError) as exc:
            # Nothing sent: try again later rather than send with no way to settle the outcome.
            await _later(deps, delivery, deps.clock() + RETRY_DELAY, f"mailbox unreadable: {exc}")
            return
    async with deps.uow() as uow:
        marked = await uow.deliveries.mark_attempt(delivery, deps.limits.lease, history_id)
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
        delivery.outcome_unknown = False  # refused, not accepted: nothing to look up
        await _rate_limited(deps, delivery, exc)
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
        await deps.quota.went_well(mailbox)


async def _reserve(deps: Dependencies, delivery: Delivery, units: int) -> bool:
    """Reserve the mailbox's quota for a call on this delivery, keeping the claim while waiting;
    False when the delivery was let go (a long wait, or the claim was lost)."""
    mailbox = deps.quota_key(delivery.approved.sender_email)
    while (wait := await deps.quota.try_spend(mailbox, units)) is not None:
        if wait > LONGEST_QUOTA_HOLD:
            await _later(deps, delivery, deps.clock() + wait, "waiting for the mailbox's quota")
            return False
        async with deps.uow() as uow:
            mine = await uow.deliveries.renew_claim(delivery, deps.limits.lease)
            await uow.commit()
        if not mine:
            return False
        await deps.sleep(max(min(wait, QUOTA_NAP).total_seconds(), 0.01))
    return True


class _LetGo(Exception):
    """The delivery was let go while waiting for quota: nothing more to do with it now."""


async def _spend_for(deps: Dependencies, delivery: Delivery, units: int) -> None:
    if not await _reserve(deps, delivery, units):
        raise _LetGo


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
    sender = delivery.approved.sender_email
    if deps.history is not None and delivery.history_id is not None:
        try:
            return await _find_in_history(deps, deps.history, delivery, delivery.history_id)
        except HistoryExpiredError:
            _log.info(
                "mailbox history expired, searching instead",
                extra={"message_id": delivery.message_id},
            )
    await _spend_for(deps, delivery, deps.limits.lookup_cost)
    return await deps.sender.find(sender, delivery.message_id)


async def _find_in_history(
    deps: Dependencies, history: MailboxHistory, delivery: Delivery, since: str
) -> str | None:
    """Page through the messages added to the sender's sent mail since `since`, reading the
    Message-ID of each one no other delivery has recorded as its own."""
    sender = delivery.approved.sender_email
    wanted = delivery.message_id.strip().strip("<>")
    page: str | None = None
    while True:
        await _spend_for(deps, delivery, deps.limits.history_cost)
        listed = await history.sent_since(sender, since, page)
        async with deps.uow() as uow:
            known = await uow.deliveries.known_provider_ids(listed.provider_message_ids)
        for provider_id in listed.provider_message_ids:
            if provider_id in known:
                continue
            await _spend_for(deps, delivery, deps.limits.message_cost)
            message_id = await history.message_id(sender, provider_id)
            if message_id is not None and message_id.strip().strip("<>") == wanted:
                return provider_id
        if listed.next_page is None:
            return None
        page = listed.next_page


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


async def unsubscribe(
    deps: Dependencies, token: str, email: str, reason: str, principal: Principal
) -> str:
    """Suppress the address of an unsubscribe link's token, or the address given.

    The link's signed token is its own authority, whoever carries it. An address alone is taken
    only from a CSM whose mailbox invited it: the dispatcher knows a customer's people only as
    the recipients of that customer's CSM's invitations. Any other address is answered the same
    whether or not anyone was ever invited at it, so the answer tells nothing of other customers.
    """
    v = Violations()
    if bool(token) == bool(email):
        v.add("token", "give the link's token or the address, not both")
    if email and "@" not in email:
        v.add("email", "is not an address")
    v.raise_if_any()
    if token:
        address = email_from_token(deps.unsubscribe_key, token)
    else:
        address = email.strip().lower()
        if principal.kind is not CallerKind.CSM:
            raise PermissionDenied("only a CSM unsubscribes by address; pass the link's token")
        async with deps.uow() as uow:
            invited = await uow.deliveries.has_invited(principal.subject, address)
        if not invited:
            raise NotFound(f"no invitation from your mailbox went to {address}")
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


def _owned(deliveries: list[Delivery], principal: Principal) -> bool:
    """True when the batch has reached the dispatcher and every delivery is from the caller's
    mailbox: the dispatcher learns whose a batch is only from its deliveries."""
    return bool(deliveries) and all(
        principal.may_act_for(d.approved.sender_email) for d in deliveries
    )


def _not_here(batch: str) -> NotFound:
    """One answer for a batch that does not exist, one of another CSM's, and one none of whose
    approved invitations has reached the dispatcher yet. The last cannot be told apart from the
    others: the dispatcher does not read the platform's customers, so before the first delivery
    it cannot know whose batch it is, and holding it then would let any CSM hold anyone's. Such
    a batch has nothing to send anyway; to hold invitations, approve them with a send time."""
    return NotFound(f"{batch} has no deliveries")


@dataclass(frozen=True)
class BatchStatus:
    deliveries: list[Delivery]
    paused: bool


async def batch_status(deps: Dependencies, name: str, principal: Principal) -> BatchStatus:
    """The deliveries of one batch, for its CSM. Until the batch's approved invitations reach the
    dispatcher it reads as empty, and so does any batch that is not the caller's: an answer that
    is the same for every batch the caller cannot see reveals none of them."""
    batch = _batch_of(name)
    async with deps.uow() as uow:
        deliveries = await uow.deliveries.for_batch(batch)
        if not _owned(deliveries, principal):
            return BatchStatus([], False)
        paused = await uow.deliveries.batch_paused(batch)
    return BatchStatus(deliveries, paused)


async def pause_batch(
    deps: Dependencies, name: str, paused: bool, principal: Principal
) -> BatchStatus:
    """Hold (or release) a batch's unsent invitations."""
    batch = _batch_of(name)
    async with deps.uow() as uow:
        if not _owned(await uow.deliveries.for_batch(batch), principal):
            raise _not_here(batch)
        await uow.deliveries.set_batch_paused(batch, paused, principal.subject)
        await uow.commit()
    return await batch_status(deps, name, principal)


async def cancel_batch(deps: Dependencies, name: str, principal: Principal) -> BatchStatus:
    """Cancel a batch's unsent invitations; a sent one is never recalled."""
    batch = _batch_of(name)
    async with deps.uow() as uow:
        if not _owned(await uow.deliveries.for_batch(batch), principal):
            raise _not_here(batch)
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
    # Whose mailbox it is follows from the caller alone, so refusing says nothing of others.
    if not principal.may_act_for(sender_email):
        raise PermissionDenied("a CSM controls their own mailbox only")
    async with deps.uow() as uow:
        await uow.deliveries.set_sender_paused(sender_email.lower(), paused, principal.subject)
        control = await uow.deliveries.sender_control(sender_email.lower())
        await uow.commit()
    return control
