"""The customer a use case acts for."""

from __future__ import annotations

from services.common.auth import Principal
from services.common.errors import NotFound
from services.personalizer.domain import names
from services.personalizer.domain.model import Customer
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork


async def customer_for(
    uow: PersonalizerUnitOfWork, customer_id: str, principal: Principal | None
) -> Customer:
    """The customer, if it exists and the caller (None: the system itself) may act on it."""
    customer = await uow.platform.customer(customer_id)
    # Another CSM's customer answers exactly like one that does not exist: a CSM must not learn
    # which customers exist, let alone anything of them.
    if customer is None or (
        principal is not None and not principal.may_act_for(customer.csm_email)
    ):
        raise NotFound(f"{names.customer_name(customer_id)} does not exist")
    return customer
