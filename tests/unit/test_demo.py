"""What `make demo` shows the CSM after Send All: people, subjects and delivery states."""

from __future__ import annotations

from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from tools.demo import delivery_report

BATCH = "customers/cloudtech/invitation-batches/b1"


def _draft(n: int, name: str, email: str, subject: str) -> pb.InvitationDraft:
    return pb.InvitationDraft(
        name=f"{BATCH}/drafts/d{n}",
        recipient=pb.Stakeholder(display_name=name, email=email),
        content=common_pb2.InvitationContent(subject=subject),
    )


def test_the_csm_sees_who_was_sent_what_and_where_it_stands_not_file_names() -> None:
    batch = pb.InvitationBatch(
        name=BATCH,
        drafts=[
            _draft(1, "Sarah Chen", "sarah@x.example", "Dashboards for Ops"),
            _draft(2, "Mike Johnson", "mike@x.example", "Go deeper"),
        ],
    )
    sent = dispatcher_pb2.Delivery(
        invitation=f"{BATCH}/drafts/d1",
        recipient_email="sarah@x.example",
        state=common_pb2.DELIVERY_STATE_SENT,
        provider_message_id="20270111.abc@trainvite.dev.eml",
    )
    sent.sent_time.FromSeconds(1_800_000_000)
    failed = dispatcher_pb2.Delivery(
        invitation=f"{BATCH}/drafts/d2",
        recipient_email="mike@x.example",
        state=common_pb2.DELIVERY_STATE_FAILED,
        detail="bounced: 5.1.1 user unknown",
    )
    status = dispatcher_pb2.BatchDeliveryStatus(
        deliveries=[sent, failed], sent_count=1, failed_count=1
    )
    text = "\n".join(delivery_report(batch, status))
    assert '- Sarah Chen <sarah@x.example>: "Dashboards for Ops", sent at ' in text
    assert (
        '- Mike Johnson <mike@x.example>: "Go deeper", not delivered '
        "(bounced: 5.1.1 user unknown)" in text
    )
    assert "1 sent, 1 not delivered" in text
    assert ".eml" not in text and "trainvite.dev" not in text
