"""The SMTP sender against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tests.helpers import Clients, batch_when, free_port
from tests.integration.catalog_data import analytics_session
from tests.mail_checks import check_raw_message

pytestmark = pytest.mark.integration

PORT = free_port()
REFUSED = "emma.larsen@helios.example"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw_messages: list[bytes] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.raw_messages.append(envelope.content)  # the bytes as they came over SMTP
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=PORT)
    controller.start()
    yield handler
    controller.stop()


@pytest.mark.dispatcher_settings(
    mail_sender="smtp", smtp_host="127.0.0.1", smtp_port=PORT, smtp_starttls=False
)
async def test_invitations_go_through_the_relay_and_a_refused_recipient_fails(
    inbox: Inbox, services: Clients
) -> None:
    session = await analytics_session(services)
    batch = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/helios", training_session=session.name),
        metadata=services.other_csm,
    )
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.other_csm
    )
    current = await batch_when(
        services,
        batch.name,
        lambda d: (
            d.delivery_state in (common_pb2.DELIVERY_STATE_SENT, common_pb2.DELIVERY_STATE_FAILED)
        ),
        "every invitation sent through the relay or refused by it",
        metadata=services.other_csm,
    )
    states = {d.recipient.email: d for d in current.drafts}
    assert REFUSED in states and len(states) > 1  # one refused, the others through the relay
    for address, draft in states.items():
        if address == REFUSED:
            assert draft.delivery_state == common_pb2.DELIVERY_STATE_FAILED
            assert "refused" in draft.delivery_detail
        else:
            assert draft.delivery_state == common_pb2.DELIVERY_STATE_SENT
    # The module's database holds no other test's deliveries: the relay received ours alone.
    received = [(str(m["To"].addresses[0].addr_spec), str(m["Subject"])) for m in inbox.messages]
    assert sorted(received) == sorted(
        (d.recipient.email, d.content.subject) for d in batch.drafts if d.recipient.email != REFUSED
    )
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in inbox.messages)
    for raw in inbox.raw_messages:
        check_raw_message(raw)
