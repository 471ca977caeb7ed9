"""The invitation funnel a CSM reads: how their invitations fared, and which choices worked."""

from __future__ import annotations

import datetime as dt

from services.common.auth import Principal
from services.common.errors import InvalidArgument, PermissionDenied
from services.personalizer.domain import names
from services.personalizer.domain.funnel import Dimension, Funnel, funnel
from services.personalizer.service_layer.customers import customer_for
from services.personalizer.service_layer.dependencies import Dependencies


async def invitation_funnel(
    deps: Dependencies,
    scope: str,
    dimension: Dimension,
    start: dt.datetime | None,
    end: dt.datetime | None,
    principal: Principal,
) -> Funnel:
    """The funnel of one of the caller's customers ("customers/{customer}"), of the caller's
    own batches ("csms/{email}", their own address only), or of everyone's (""): counts and
    rates, never a person."""
    if start is not None and end is not None and end <= start:
        raise InvalidArgument.single("end_time", "must be after start_time")
    customer_id = sender = None
    if scope.startswith("csms/"):
        sender = names.csm_email(scope)
        if sender.lower() != principal.subject.lower():
            raise PermissionDenied("a CSM reads the funnel of their own invitations only")
    elif scope:
        customer_id = names.customer_id(scope, "scope")
    async with deps.uow() as uow:
        if customer_id is not None:
            await customer_for(uow, customer_id, principal)
        invitations = await uow.batches.funnel_invitations(customer_id, sender, start, end)
    return funnel(invitations, dimension)
