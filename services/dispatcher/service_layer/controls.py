"""A CSM's controls over sending: a batch's status, pausing and cancelling it, pausing a mailbox."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.common.auth import Principal
from services.common.errors import NotFound, PermissionDenied
from services.dispatcher.domain import names
from services.dispatcher.domain.model import Delivery
from services.dispatcher.service_layer.dependencies import Dependencies


@dataclass(frozen=True)
class BatchStatus:
    deliveries: list[Delivery]
    paused: bool


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


async def batch_status(deps: Dependencies, name: str, principal: Principal) -> BatchStatus:
    """The deliveries of one batch, for its CSM. Until the batch's approved invitations reach the
    dispatcher it reads as empty, and so does any batch that is not the caller's: an answer that
    is the same for every batch the caller cannot see reveals none of them."""
    batch = names.batch_of_status(name)
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
    batch = names.batch_of_status(name)
    async with deps.uow() as uow:
        if not _owned(await uow.deliveries.for_batch(batch), principal):
            raise _not_here(batch)
        await uow.deliveries.set_batch_paused(batch, paused, principal.subject)
        await uow.commit()
    return await batch_status(deps, name, principal)


async def cancel_batch(deps: Dependencies, name: str, principal: Principal) -> BatchStatus:
    """Cancel a batch's unsent invitations; a sent one is never recalled."""
    batch = names.batch_of_status(name)
    async with deps.uow() as uow:
        if not _owned(await uow.deliveries.for_batch(batch), principal):
            raise _not_here(batch)
        for delivery in await uow.deliveries.unsent_for_update(batch):
            delivery.cancel(principal.subject)
            await uow.deliveries.save(delivery)
        await uow.commit()
    return await batch_status(deps, name, principal)


async def control_sender(
    deps: Dependencies, name: str, paused: bool, principal: Principal
) -> tuple[bool, dt.datetime | None]:
    """Pause or resume everything from one mailbox (senders/{email}); a CSM controls their own."""
    sender_email = names.sender_of_control(name)
    # Whose mailbox it is follows from the caller alone, so refusing says nothing of others.
    if not principal.may_act_for(sender_email):
        raise PermissionDenied("a CSM controls their own mailbox only")
    async with deps.uow() as uow:
        await uow.deliveries.set_sender_paused(sender_email, paused, principal.subject)
        control = await uow.deliveries.sender_control(sender_email)
        await uow.commit()
    return control
