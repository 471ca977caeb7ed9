"""A customer named as the CSM types it, on the personalizer's fakes: found among that CSM's
customers only, and never guessed when two match equally well."""

from __future__ import annotations

import pytest

from services.common.auth import CallerKind, Principal
from services.common.errors import InvalidArgument, NotFound
from services.personalizer.domain.customer_names import NamedCustomer, Why, resolve
from services.personalizer.domain.model import Customer
from services.personalizer.service_layer.customer_names import (
    NO_MATCH,
    customer_of_request,
    resolve_customer,
    resolved_customer_id,
)
from tests.fakes.personalizer import FakePersonalizer
from tests.unit.personalizer.world import CSM, OTHER_CSM, world


def _customer(cid: str, display_name: str, csm: Principal) -> Customer:
    return Customer(cid, display_name, csm.subject, "", "", frozenset())


def customers() -> FakePersonalizer:
    """Alex has CloudTech, Acme Labs and Acme Logistics; Sasha has Northwind and Acme Industries."""
    p = world()
    for c in (
        _customer("acme-labs", "Acme Labs", CSM),
        _customer("acme-logistics", "Acme Logistics", CSM),
        _customer("acme-industries", "Acme Industries", OTHER_CSM),
    ):
        p.store.customers[c.id] = c
    return p


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("CloudTech", Why.EXACT),
        ("cloudtech", Why.EXACT),  # the customer's id
        ("CLOUDTECH", Why.IGNORING_CASE_AND_SPACES),
        ("  Cloud   Tech ", Why.IGNORING_CASE_AND_SPACES),
        ("cloud-tech", Why.IGNORING_CASE_AND_SPACES),
        ("CloudTech team", Why.WITHOUT_FILLER_WORDS),
        ("the CloudTech team", Why.WITHOUT_FILLER_WORDS),
        ("CloudTech, Inc.", Why.WITHOUT_FILLER_WORDS),
        ("Invite CloudTech team to training", Why.NAMED_AMONG_OTHER_WORDS),
        ("Cloudtek", Why.CLOSE_SPELLING),
        ("cloud tek team", Why.CLOSE_SPELLING),
    ],
)
async def test_one_clear_match_names_the_customer(query: str, why: Why) -> None:
    found = await resolve_customer(customers().deps, query, CSM)

    assert found.match is not None and found.match.id == "cloudtech"
    assert found.candidates[0].customer.id == "cloudtech"
    assert found.candidates[0].why is why


async def test_two_equally_good_matches_are_candidates_never_a_guess() -> None:
    p = customers()
    found = await resolve_customer(p.deps, "acme", CSM)

    assert found.match is None and found.ambiguous
    assert [(c.customer.display_name, c.why) for c in found.candidates] == [
        ("Acme Labs", Why.PART_OF_THE_NAME),
        ("Acme Logistics", Why.PART_OF_THE_NAME),
    ]
    # Where a customer is expected, the ambiguity is refused with the choices named.
    with pytest.raises(InvalidArgument) as refused:
        await resolved_customer_id(p.deps, "acme", CSM, "customer_query")
    violation = refused.value.violations[0]
    assert violation.field == "customer_query"
    assert "Acme Labs (customers/acme-labs)" in violation.description
    assert "Acme Logistics (customers/acme-logistics)" in violation.description
    # One more word settles it.
    assert await resolved_customer_id(p.deps, "Acme Labs team", CSM, "customer_query") == (
        "acme-labs"
    )


async def test_a_stricter_match_wins_over_looser_ones() -> None:
    found = resolve(
        "Acme Labs",
        [NamedCustomer("acme-labs", "Acme Labs"), NamedCustomer("acme-lab", "Acme Lab")],
    )
    assert found.match == NamedCustomer("acme-labs", "Acme Labs")
    assert [c.why for c in found.candidates] == [Why.EXACT, Why.CLOSE_SPELLING]


async def test_another_csms_customer_never_matches_nor_appears() -> None:
    p = customers()
    # Sasha's Northwind is nobody's customer to Alex, said as for a name nobody has.
    with pytest.raises(NotFound) as theirs:
        await resolve_customer(p.deps, "Northwind", CSM)
    with pytest.raises(NotFound) as nobodys:
        await resolve_customer(p.deps, "Zyxwv Holdings", CSM)
    assert str(theirs.value) == str(nobodys.value) == NO_MATCH
    assert "Northwind" not in NO_MATCH
    # Sasha's Acme Industries is not among Alex's candidates for "acme".
    found = await resolve_customer(p.deps, "acme", CSM)
    assert "acme-industries" not in {c.customer.id for c in found.candidates}
    # And Alex's CloudTech is nobody's customer to Sasha.
    with pytest.raises(NotFound):
        await resolve_customer(p.deps, "CloudTech", OTHER_CSM)
    assert (await resolve_customer(p.deps, "acme", OTHER_CSM)).match == NamedCustomer(
        "acme-industries", "Acme Industries"
    )


async def test_only_a_csm_has_customers_to_name() -> None:
    service = Principal("personalizer", CallerKind.SERVICE)
    with pytest.raises(NotFound):
        await resolve_customer(customers().deps, "CloudTech", service)


@pytest.mark.parametrize("query", ["", "c", " c ", "--", "?! 7", "x" * 201])
async def test_a_query_too_short_or_too_long_is_refused_naming_the_field(query: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await resolve_customer(customers().deps, query, CSM)
    assert refused.value.violations[0].field == "query"


async def test_filler_words_alone_name_nobody() -> None:
    with pytest.raises(NotFound):
        await resolve_customer(customers().deps, "the team", CSM)


async def test_a_request_names_its_customer_by_resource_name_or_by_typed_name() -> None:
    p = customers()
    # The resource name's path is left as it is.
    assert await customer_of_request(p.deps, "customers/cloudtech", "", CSM, "parent") is None
    assert await customer_of_request(p.deps, "", "", CSM, "parent") is None
    assert await customer_of_request(p.deps, "", "CloudTech team", CSM, "parent") == "cloudtech"
    with pytest.raises(InvalidArgument) as both:
        await customer_of_request(p.deps, "customers/cloudtech", "CloudTech", CSM, "parent")
    assert both.value.violations[0].field == "customer_query"
    with pytest.raises(NotFound):
        await customer_of_request(p.deps, "", "Northwind", CSM, "parent")
