"""A customer named as a CSM types it, among the customers assigned to that CSM only."""

from __future__ import annotations

from services.common.auth import CallerKind, Principal
from services.common.errors import InvalidArgument, NotFound
from services.personalizer.domain import names
from services.personalizer.domain.customer_names import (
    MAX_CHARACTERS,
    MIN_CHARACTERS,
    Resolution,
    characters,
    resolve,
)
from services.personalizer.service_layer.dependencies import Dependencies

# The same words whether the name means another CSM's customer or nobody's, and without the
# query itself: nothing in it tells which customers exist.
NO_MATCH = (
    "no customer assigned to you matches that name; check its spelling, or give the customer "
    "as customers/{customer}"
)


def _checked(query: str, field: str) -> str:
    if characters(query) < MIN_CHARACTERS:
        raise InvalidArgument.single(
            field, f"must name a customer with at least {MIN_CHARACTERS} letters or digits"
        )
    if len(query) > MAX_CHARACTERS:
        raise InvalidArgument.single(field, f"must be at most {MAX_CHARACTERS} characters")
    return query


async def resolve_customer(
    deps: Dependencies, query: str, principal: Principal, field: str = "query"
) -> Resolution:
    """Every customer of the caller's the query may mean, and the one it means if one is best.
    NotFound when none matches."""
    _checked(query, field)
    # Only a CSM has customers; any other caller finds none, whatever it types.
    if principal.kind is not CallerKind.CSM:
        raise NotFound(NO_MATCH)
    async with deps.uow() as uow:
        customers = await uow.platform.customers_of(principal.subject)
    resolution = resolve(query, customers)
    if not resolution.candidates:
        raise NotFound(NO_MATCH)
    return resolution


async def resolved_customer_id(
    deps: Dependencies, query: str, principal: Principal, field: str
) -> str:
    """The one customer the query means; a query two or more customers match equally well is
    refused with their names, for the CSM to pick one."""
    resolution = await resolve_customer(deps, query, principal, field)
    if resolution.match is None:
        best = resolution.candidates[0].why
        choices = ", ".join(
            f"{c.customer.display_name} ({names.customer_name(c.customer.id)})"
            for c in resolution.candidates
            if c.why is best
        )
        raise InvalidArgument.single(field, f"matches more than one of your customers: {choices}")
    return resolution.match.id


async def customer_of_request(
    deps: Dependencies, name: str, query: str, principal: Principal, name_field: str
) -> str | None:
    """The customer's id a request names by its typed name (`customer_query`), or None when the
    request names it by resource name (or by nothing, which that name's check refuses)."""
    if not query:
        return None
    if name:
        raise InvalidArgument.single(
            "customer_query", f"must be empty when {name_field} names the customer"
        )
    return await resolved_customer_id(deps, query, principal, "customer_query")
