"""The dispatcher's use cases, one function each."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from services.common.auth import Principal
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.outbox import OutboxMessage
from services.dispatcher.adapters.senders import MailSender, PermanentSendError, TransientSendError
from services.dispatcher.domain.model import ApprovedInvitation, Delivery, DeliveryOutcome
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork

_log = logging.getLogger(__name__)

CLAIM_LEASE = dt.timedelta(minutes=2)
RETRY_DELAY = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], DispatcherUnitOfWork]
    sender: MailSender
    build_message: Callable[[Delivery], EmailMessage]
    encode_outcome: Callable[[DeliveryOutcome], OutboxMessage]
    clock: Callable[[], dt.datetime]


async def accept_invitation(deps: Dependencies, approved: ApprovedInvitation) -> bool:
    """Store one delivery per approved invitation; False when it was stored before."""
    async with deps.uow() as uow:
        added = await uow.deliveries.add(Delivery.accept(approved))
        await uow.commit()
    return added


async def _finish(deps: Dependencies, delivery: Delivery) -> None:
    async with deps.uow() as uow:
        await uow.deliveries.save_outcome(delivery)
        for event in delivery.events:
            uow.publish(deps.encode_outcome(event))
        await uow.commit()


async def send_due(deps: Dependencies, limit: int = 20) -> int:
    """Claim due deliveries and send each; return how many were claimed."""
    async with deps.uow() as uow:
        claimed = await uow.deliveries.claim_due(deps.clock(), limit, CLAIM_LEASE)
        await uow.commit()
    for delivery in claimed:
        await _send_one(deps, delivery)
    return len(claimed)


async def _send_one(deps: Dependencies, delivery: Delivery) -> None:
    # Checked at send time, so an address suppressed after approval is never emailed.
    async with deps.uow() as uow:
        reason = await uow.deliveries.suppression_reason(delivery.approved.recipient_email)
    if reason is not None:
        delivery.mark_suppressed(f"address suppressed: {reason}")
        await _finish(deps, delivery)
        return
    try:
        result = await deps.sender.send(deps.build_message(delivery))
    except PermanentSendError as exc:
        delivery.mark_failed(str(exc))
        async with deps.uow() as uow:
            await uow.deliveries.suppress(delivery.approved.recipient_email, f"rejected: {exc}")
            await uow.commit()
        await _finish(deps, delivery)
    except TransientSendError as exc:
        _log.warning("send failed, will retry", extra={"message_id": delivery.message_id})
        async with deps.uow() as uow:
            await uow.deliveries.retry_later(delivery, deps.clock() + RETRY_DELAY, str(exc))
            await uow.commit()
    else:
        delivery.mark_sent(result.provider_message_id, deps.clock())
        await _finish(deps, delivery)


_BATCH_STATUS = re.compile(
    r"(?P<batch>customers/[A-Za-z0-9_-]{1,64}/invitation-batches/[0-9a-fA-F-]{36})/delivery-status"
)


async def batch_status(deps: Dependencies, name: str, principal: Principal) -> list[Delivery]:
    """The deliveries of one batch, for its CSM or a service."""
    match = _BATCH_STATUS.fullmatch(name)
    if match is None:
        raise InvalidArgument.single(
            "name", "must look like customers/{customer}/invitation-batches/{batch}/delivery-status"
        )
    async with deps.uow() as uow:
        deliveries = await uow.deliveries.for_batch(match["batch"])
    for d in deliveries:
        if not principal.may_act_for(d.approved.sender_email):
            raise PermissionDenied(f"{match['batch']} belongs to another CSM")
    return deliveries
