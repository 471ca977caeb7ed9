"""The message the dispatcher sends for a delivery."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from services.common.errors import InvalidArgument
from services.dispatcher.adapters.mime import build_message
from services.dispatcher.domain.bounces import read_bounces
from services.dispatcher.domain.model import ApprovedInvitation, Delivery
from services.dispatcher.domain.unsubscribe import email_from_token, unsubscribe_token

AT = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def delivery(**kw: str) -> Delivery:
    fields: dict[str, object] = dict(
        invitation="customers/c/invitation-batches/b/drafts/d",
        batch="customers/c/invitation-batches/b",
        customer_id="c",
        training_session="training-sessions/s",
        recipient_email="sarah@x.example",
        recipient_name="Sarah Chen",
        sender_email="alex@trainvite.dev",
        sender_name="Alex Rivera",
        subject="Unlock Custom Dashboards",
        text_body="Hi Sarah,\n",
        html_body="<p>Hi Sarah,</p>",
        calendar_ics="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
        content_sha256="x",
        approved_by="alex@trainvite.dev",
        approved_at=AT,
        send_after=AT,
    )
    fields.update(kw)
    return Delivery.accept(ApprovedInvitation(**fields))  # type: ignore[arg-type]


def test_headers_and_parts() -> None:
    d = delivery()
    raw = build_message(d, "https://trainvite.dev/unsubscribe", "k").as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Message-ID"] == d.message_id and d.message_id.endswith("@trainvite.dev>")
    assert message["To"] == "Sarah Chen <sarah@x.example>"
    assert message["List-Unsubscribe"].startswith("<https://trainvite.dev/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    types = [p.get_content_type() for p in message.walk()]
    assert types == ["multipart/alternative", "text/plain", "text/html", "text/calendar"]
    assert "unsubscribe" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_name_with_line_breaks_cannot_add_a_header() -> None:
    raw = build_message(
        delivery(recipient_name="Eve\r\nBcc: x@evil.example"), "https://u", "k"
    ).as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None


def test_an_unsubscribe_token_names_its_address_and_cannot_be_forged() -> None:
    token = unsubscribe_token("key", "Sarah@X.example")
    assert email_from_token("key", token) == "sarah@x.example"
    with pytest.raises(InvalidArgument):
        email_from_token("another key", token)
    forged = unsubscribe_token("key", "a@x.example").split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(InvalidArgument):
        email_from_token("key", forged)


def test_a_delivery_status_report_names_the_bounced_address_and_message() -> None:
    from tests.fakes.gmail import bounce_report

    original = build_message(delivery(), "https://u", "k")
    [bounce] = read_bounces(bounce_report(original, "sarah@x.example"))
    assert (bounce.recipient, bounce.status) == ("sarah@x.example", "5.1.1")
    assert bounce.message_id == str(original["Message-ID"])
    assert read_bounces(original.as_bytes()) == []  # an ordinary message is no report
