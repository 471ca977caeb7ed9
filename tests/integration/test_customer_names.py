"""A customer named as the CSM types it in the chat, over real gRPC on the seeded demo data:
Alex has CloudTech and Northwind Logistics, Jordan has Helios Health and Acme Retail."""

from __future__ import annotations

import asyncpg
import grpc
import pytest
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.platform.seed import CSM_EMAIL
from tests.helpers import Clients
from tests.integration.catalog_data import analytics_session
from tests.integration.test_api_errors import bad_fields

pytestmark = pytest.mark.integration


async def _resolve(
    c: Clients, query: str, metadata: tuple[tuple[str, str]] | None = None
) -> pb.ResolveCustomerResponse:
    return await c.personalizer.ResolveCustomer(
        pb.ResolveCustomerRequest(query=query), metadata=metadata or c.csm
    )


async def _refusal(c: Clients, query: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _resolve(c, query)
    return err.value


@pytest.mark.parametrize(
    ("query", "customer", "why"),
    [
        ("Invite CloudTech team", "customers/cloudtech", "named among other words"),
        ("CloudTech team", "customers/cloudtech", "without filler words such as team or inc"),
        ("cloud tech", "customers/cloudtech", "ignoring case and spaces"),
        ("Cloudtek", "customers/cloudtech", "close spelling"),
        ("logistics", "customers/northwind", "part of the name"),
    ],
)
async def test_the_chats_words_resolve_the_csms_customer(
    services: Clients, query: str, customer: str, why: str
) -> None:
    found = await _resolve(services, query)

    assert found.customer == customer
    assert (found.candidates[0].name, found.candidates[0].why) == (customer, why)


async def test_another_csms_customer_answers_like_a_name_nobody_has(services: Clients) -> None:
    theirs = await _refusal(services, "Acme Retail")
    nobodys = await _refusal(services, "Zyxwv Holdings")

    assert theirs.code() == nobodys.code() == grpc.StatusCode.NOT_FOUND
    assert theirs.details() == nobodys.details()
    assert "Acme" not in (theirs.details() or "")
    # Jordan finds it.
    found = await _resolve(services, "acme", services.other_csm)
    assert found.customer == "customers/acme"


async def test_a_query_of_one_letter_is_invalid(services: Clients) -> None:
    refused = await _refusal(services, " c ")

    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(refused) == {"query"}


async def test_two_equally_good_matches_list_the_candidates_and_draft_nothing(
    services: Clients, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute(
        """
        INSERT INTO platform.customers (id, display_name, csm_email, csm_name, csm_signature)
        VALUES ('cloudtech-eu', 'CloudTech Europe', $1, 'Alex Rivera', 'Alex Rivera')
        ON CONFLICT (id) DO NOTHING
        """,
        CSM_EMAIL,
    )
    try:
        await _two_cloudtechs(services)
    finally:
        # The module's other tests know one CloudTech only.
        await conn.execute("DELETE FROM platform.customers WHERE id = 'cloudtech-eu'")
        await conn.close()


async def _two_cloudtechs(services: Clients) -> None:
    found = await _resolve(services, "cloud")
    assert found.customer == ""
    assert [(c.name, c.display_name) for c in found.candidates] == [
        ("customers/cloudtech", "CloudTech"),
        ("customers/cloudtech-eu", "CloudTech Europe"),
    ]
    # Where a customer is expected, the same words are refused with the choices, not guessed.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(customer_query="cloud", topic="Analytics"),
            metadata=services.csm,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(err.value) == {"customer_query"}
    assert "CloudTech (customers/cloudtech)" in (err.value.details() or "")
    assert "CloudTech Europe (customers/cloudtech-eu)" in (err.value.details() or "")
    listed = await services.personalizer.ListInvitationBatches(
        pb.ListInvitationBatchesRequest(parent="customers/cloudtech"), metadata=services.csm
    )
    assert not listed.invitation_batches


async def test_drafting_and_gaps_take_the_customer_as_typed(services: Clients) -> None:
    session = await analytics_session(services)
    batch = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(
            customer_query="Invite CloudTech team", training_session=session.name
        ),
        metadata=services.csm,
    )
    assert batch.name.startswith("customers/cloudtech/invitation-batches/")
    assert batch.drafts

    found = await services.personalizer.GetTrainingGaps(
        pb.GetTrainingGapsRequest(customer_query="cloudtek"), metadata=services.csm
    )
    assert found.name == "customers/cloudtech/training-gaps"
    assert found.customer_display_name == "CloudTech"

    # Another CSM's customer by typed name is not found, as by resource name.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(
            pb.GetTrainingGapsRequest(customer_query="Acme Retail"), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # A resource name and a typed name at once are refused.
    with pytest.raises(grpc.aio.AioRpcError) as both:
        await services.personalizer.GetTrainingGaps(
            pb.GetTrainingGapsRequest(
                name="customers/cloudtech/training-gaps", customer_query="CloudTech"
            ),
            metadata=services.csm,
        )
    assert bad_fields(both.value) == {"customer_query"}
