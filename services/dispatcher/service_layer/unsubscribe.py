"""Unsubscribing: by a link's signed token, or by address for the CSM who invited it."""

from __future__ import annotations

from services.common.auth import CallerKind, Principal
from services.common.errors import NotFound, PermissionDenied, Violations
from services.dispatcher.domain.unsubscribe import email_from_token
from services.dispatcher.service_layer.addresses import suppress
from services.dispatcher.service_layer.dependencies import Dependencies


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
    async with deps.uow() as uow:
        await suppress(uow, address, reason or "unsubscribed")
        await uow.commit()
    return address
