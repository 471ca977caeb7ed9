"""Sending through the real google-api-python-client to a fake Gmail on loopback: every approved
invitation lands in the mailbox exactly once, whatever the provider does."""

from __future__ import annotations

import asyncio
import collections
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.runtime import serve
from services.dispatcher import bootstrap as dispatcher
from services.dispatcher.settings import DispatcherSettings
from tests.e2e.processes import add_customer
from tests.fakes.gmail import Behaviour, FakeGmail, service_account_file, token_file
from tests.helpers import Clients, batch_when, free_port
from tests.integration.catalog_data import analytics_session
from tests.mail_checks import check_raw_messages
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people, and a delivery still pending when
    one ends would reach the next test's mailbox."""
    return fresh_database_url


CSM = "alex.rivera@trainvite.dev"
# The fake's port is chosen when it starts, and the services read their settings when they
# start, so each test's fake is started by the module's own fixture before the services.
_FAKES: dict[str, FakeGmail] = {}


@pytest.fixture
def gmail(request: pytest.FixtureRequest) -> Iterator[FakeGmail]:
    fake = _FAKES[request.node.name]
    yield fake
    check_raw_messages(m.raw for user in list(fake.mailboxes) for m in fake.delivered(user))


def gmail_test(
    behaviour: Behaviour, service_account: bool = False, **settings: object
) -> pytest.MarkDecorator:
    """Run the services with the dispatcher sending to a fake Gmail that behaves so, as the
    mailbox of a token file or, with `service_account`, as each CSM by delegation."""
    fake = FakeGmail(behaviour).__enter__()
    folder = Path(tempfile.mkdtemp(prefix="trainvite-gmail-"))
    credentials = (
        {"gmail_service_account_file": service_account_file(folder / "sa.json", fake.url + "token")}
        if service_account
        else {"gmail_token_file": token_file(folder / "token.json", CSM)}
    )

    def register(function: object) -> object:
        _FAKES[function.__name__] = fake  # type: ignore[attr-defined]
        return function

    marker = pytest.mark.dispatcher_settings(
        **{
            "mail_sender": "gmail",
            **credentials,
            "gmail_api_endpoint": fake.url,
            "unknown_outcome_settle_seconds": 1.0,
            **settings,
        }
    )

    def decorate(function: object) -> object:
        return marker(register(function))

    return decorate  # type: ignore[return-value]


async def approve_northwind(c: Clients) -> pb.InvitationBatch:
    """Northwind's team (Alex's customer) invited to a new session and approved."""
    session = await analytics_session(c)
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/northwind", training_session=session.name),
        metadata=c.csm,
    )
    assert batch.drafts
    return await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=c.csm
    )


async def approve_new_customer(
    c: Clients, database_url: str, people: int
) -> tuple[pb.InvitationBatch, list[str]]:
    """A new customer of Alex's with `people` stakeholders, all invited and approved; with the
    addresses."""
    customer = f"mailco{uuid.uuid4().hex[:8]}"
    addresses = await add_customer(database_url, customer, CSM, "Alex Rivera", people)
    batch = await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent=f"customers/{customer}", topic="Advanced Analytics"),
        metadata=c.csm,
        timeout=60,
    )
    assert len(batch.drafts) == people
    approved = await c.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=c.csm
    )
    return approved, addresses


async def settled(c: Clients, batch: pb.InvitationBatch, seconds: float = 60) -> pb.InvitationBatch:
    """The batch once no draft is pending delivery any more."""
    return await batch_when(
        c,
        batch.name,
        lambda d: (
            d.delivery_state
            not in (common_pb2.DELIVERY_STATE_PENDING, common_pb2.DELIVERY_STATE_UNSPECIFIED)
        ),
        f"no invitation of {batch.name} pending delivery",
        timeout=seconds,
    )


def once_each(fake: FakeGmail, batch: pb.InvitationBatch) -> None:
    """Every approved invitation of the batch is in the mailbox exactly once."""
    subjects = {d.content.subject for d in batch.drafts}
    counts = collections.Counter(
        (m.to, m.subject) for m in fake.delivered(CSM) if m.subject in subjects
    )
    expected = {(d.recipient.email, d.content.subject) for d in batch.drafts}
    assert set(counts) == expected
    assert set(counts.values()) == {1}, counts


@gmail_test(Behaviour())
async def test_approved_invitations_reach_gmail_once(services: Clients, gmail: FakeGmail) -> None:
    batch = await settled(services, await approve_northwind(services))
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in batch.drafts)
    once_each(gmail, batch)
    sent = gmail.delivered(CSM)[0]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in sent.raw


@gmail_test(Behaviour(quota_units=200, quota_window_seconds=2.0))
async def test_a_quota_answered_with_429_slows_down_and_loses_nothing(
    services: Clients, gmail: FakeGmail
) -> None:
    batch = await settled(services, await approve_northwind(services))
    assert gmail.rate_limited > 0, "the fake's quota was never hit"
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in batch.drafts)
    once_each(gmail, batch)


@gmail_test(Behaviour(fail_after_accept_every=2))
async def test_a_503_after_acceptance_is_looked_up_not_resent(
    services: Clients, gmail: FakeGmail
) -> None:
    batch = await settled(services, await approve_northwind(services))
    assert gmail.history_lists > 0  # settled from the mailbox's history
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in batch.drafts)
    once_each(gmail, batch)


@gmail_test(Behaviour(drop_after_accept_every=2))
async def test_a_dropped_connection_after_acceptance_is_looked_up_not_resent(
    services: Clients, gmail: FakeGmail
) -> None:
    batch = await settled(services, await approve_northwind(services))
    assert gmail.history_lists > 0  # settled from the mailbox's history
    once_each(gmail, batch)


@gmail_test(Behaviour(delay_seconds=1.5, fail_lookup_every=2), gmail_timeout_seconds=0.5)
async def test_a_slow_gmail_and_failing_lookups_still_send_once(
    services: Clients, gmail: FakeGmail
) -> None:
    batch = await settled(services, await approve_northwind(services), seconds=120)
    assert gmail.history_lists > 0  # settled from the mailbox's history
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in batch.drafts)
    once_each(gmail, batch)


@gmail_test(Behaviour(rejected_addresses={"grace.kim@northwind.example"}))
async def test_a_rejected_address_fails_for_good_with_the_reason(
    services: Clients, gmail: FakeGmail
) -> None:
    batch = await settled(services, await approve_northwind(services))
    grace = next(d for d in batch.drafts if d.recipient.display_name == "Grace Kim")
    assert grace.delivery_state == common_pb2.DELIVERY_STATE_FAILED
    assert "400" in grace.delivery_detail and "invalidArgument" in grace.delivery_detail
    others = [d for d in batch.drafts if d is not grace]
    assert others and all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in others)
    assert gmail.attempts["grace.kim@northwind.example"] == 1  # refused for good: not retried


@gmail_test(Behaviour(), service_account=True)
async def test_a_service_account_sends_as_each_csm(services: Clients, gmail: FakeGmail) -> None:
    """Delegation: the token is minted for the CSM the message is from, so it lands in the
    CSM's own mailbox."""
    batch = await settled(services, await approve_northwind(services))
    assert gmail.tokens_issued >= 1
    once_each(gmail, batch)


@gmail_test(Behaviour(bounce_addresses={"omar.haddad@northwind.example"}), bounce_poll_seconds=0.3)
async def test_a_bounce_report_fails_the_delivery_and_suppresses_the_address(
    services: Clients, gmail: FakeGmail
) -> None:
    batch = await approve_northwind(services)
    omar = next(d for d in batch.drafts if d.recipient.email == "omar.haddad@northwind.example")

    async def bounced() -> pb.InvitationDraft | NotYet:
        current = await services.personalizer.GetInvitationBatch(
            pb.GetInvitationBatchRequest(name=batch.name), metadata=services.csm
        )
        shown = next(d for d in current.drafts if d.name == omar.name)
        failed = shown.delivery_state == common_pb2.DELIVERY_STATE_FAILED
        return shown if failed else NotYet(common_pb2.DeliveryState.Name(shown.delivery_state))

    shown = await wait_for(bounced, "Omar's invitation failed by the bounce", timeout=30)
    assert shown.delivery_detail.startswith("bounced: 5.1.1")

    # The personalizer hears of the suppression and leaves the address out from now on.
    async def left_out() -> bool:
        again = await services.personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(
                parent="customers/northwind",
                training_session=(await analytics_session(services)).name,
            ),
            metadata=services.csm,
        )
        reasons = {e.stakeholder.id: e.reason for e in again.excluded}
        return reasons.get("nw-analyst") == pb.EXCLUSION_REASON_SUPPRESSED

    await wait_for(left_out, "Omar left out of new drafts as suppressed", timeout=10, interval=0.1)


@gmail_test(
    Behaviour(rate_limit_sends={3}, retry_after="3"),
    # 100 units a second: one send a second, so that no request is already on its way when the
    # 429 arrives, and the test sees exactly what the pause holds back.
    gmail_quota_units_per_minute=6_100,
)
async def test_a_429_rests_the_whole_mailbox_for_retry_after_then_sends_on(
    services: Clients, gmail: FakeGmail, database_url: str
) -> None:
    approved, _ = await approve_new_customer(services, database_url, 6)
    batch = await settled(services, approved)
    assert gmail.rate_limited == 1
    refused_at = gmail.requests_of("send")[2]
    later = [at for at in gmail.requests_of("send", "profile", "history", "get") if at > refused_at]
    assert later, "nothing was sent after the 429"
    # Retry-After: 3 held back every worker (a lower bound: a slow machine only waits longer).
    assert min(later) >= refused_at + 3.0, min(later) - refused_at
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in batch.drafts)
    once_each(gmail, batch)


@gmail_test(
    # 30% of the sends dropped after Gmail accepted them; the search index 20 s behind.
    Behaviour(drop_after_accept_every=3, search_lag_seconds=20.0, history_page_size=4),
    unknown_outcome_settle_seconds=3.0,
)
async def test_unknown_outcomes_settle_from_the_history_not_the_lagging_search(
    services: Clients, gmail: FakeGmail, database_url: str
) -> None:
    approved, people = await approve_new_customer(services, database_url, 50)
    final = await settled(services, approved, seconds=120)
    received = collections.Counter(m.to for m in gmail.delivered(CSM) if m.to in set(people))
    twice = {to: n for to, n in received.items() if n > 1}
    assert not twice, f"{len(twice)} of {len(people)} recipients mailed more than once"
    assert set(received) == set(people)
    assert gmail.history_lists > 0  # settled from the history
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in final.drafts)


@gmail_test(Behaviour(drop_after_accept_every=2, history_kept=0))
async def test_an_expired_history_falls_back_to_the_search_and_its_settle_time(
    services: Clients, gmail: FakeGmail, database_url: str
) -> None:
    approved, _ = await approve_new_customer(services, database_url, 6)
    batch = await settled(services, approved)
    assert gmail.history_lists > 0 and gmail.lookups > 0  # history answered 404: searched
    assert all(d.delivery_state == common_pb2.DELIVERY_STATE_SENT for d in batch.drafts)
    once_each(gmail, batch)


# The fake's quota: 303 units (three sends with their history position) per 10 s; the
# dispatcher budgets the same, so it sends one message about every 3.7 s.
_TIGHT = {"gmail_quota_units_per_minute": 303, "gmail_quota_window_seconds": 10.0}


@gmail_test(
    Behaviour(quota_units=303, quota_window_seconds=10.0),
    send_workers=0,  # the test runs the sending dispatchers itself
)
async def test_a_restarted_dispatcher_spends_from_the_budget_its_predecessor_left(
    services: Clients,
    gmail: FakeGmail,
    database_url: str,
    nats_url: str,
    namespace: str,
    signing_key: str,
    tmp_path: Path,
) -> None:
    settings = {
        "database_url": database_url,
        "nats_url": nats_url,
        "event_namespace": namespace,
        "jwt_secret": signing_key,
        "shutdown_grace_seconds": 0.5,
        "mail_sender": "gmail",
        "gmail_token_file": token_file(tmp_path / "token.json", CSM),
        "gmail_api_endpoint": gmail.url,
        "outbox_dir": tmp_path / "outbox",
        "send_poll_seconds": 0.1,
        "bounce_poll_seconds": 3600.0,
        # What the stopped dispatcher had claimed is taken over soon after it stops.
        "claim_lease_seconds": 3.0,
        "send_batch_size": 1,
        "unknown_outcome_settle_seconds": 1.0,
        **_TIGHT,
    }

    def start(stop: asyncio.Event) -> asyncio.Task[None]:
        run = serve(
            "dispatcher",
            dispatcher.SCHEMA,
            DispatcherSettings(grpc_port=free_port(), **settings),
            dispatcher.build,
            stop,
        )
        return asyncio.create_task(run)

    batch, _ = await approve_new_customer(services, database_url, 6)
    first_stop = asyncio.Event()
    first = start(first_stop)
    try:
        # The first dispatcher has spent its minute when it stops.
        await wait_for(
            lambda: len(gmail.delivered(CSM)) >= 3 or first.done(),
            "three invitations sent by the first dispatcher",
            timeout=30,
        )
    finally:
        first_stop.set()
        await first
    assert len(gmail.delivered(CSM)) >= 3
    second_stop = asyncio.Event()
    second = start(second_stop)
    try:
        batch = await settled(services, batch, seconds=90)
    finally:
        second_stop.set()
        # Gathered, not awaited: a failed wait above is the error to report, not the stop's.
        stopped = await asyncio.gather(second, return_exceptions=True)
    assert stopped[0] is None, f"the second dispatcher stopped on {stopped[0]!r}"
    assert gmail.rate_limited == 0, f"{gmail.rate_limited} calls over the quota after the restart"
    once_each(gmail, batch)
