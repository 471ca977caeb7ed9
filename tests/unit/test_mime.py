"""The message the dispatcher sends for a delivery."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import re
import unicodedata
import uuid

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.common.errors import InvalidArgument
from services.dispatcher.adapters.mime import build_message
from services.dispatcher.domain.bounces import read_bounces
from services.dispatcher.domain.model import ApprovedInvitation, Delivery
from services.dispatcher.domain.unsubscribe import email_from_token, unsubscribe_token
from tests.mail_checks import check_raw_message

AT = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def calendar_invitation(method: str = "REQUEST") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//trainvite//training invitations//EN\r\n"
        f"METHOD:{method}\r\nBEGIN:VEVENT\r\nUID:s@trainvite.dev\r\n"
        "DTSTAMP:20261124T120000Z\r\nDTSTART:20261201T160000Z\r\n"
        "DTEND:20261201T170000Z\r\nSEQUENCE:2\r\nSUMMARY:Advanced Analytics\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


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
        calendar_ics=calendar_invitation(),
        content_sha256="x",
        approved_by="alex@trainvite.dev",
        approved_at=AT,
        send_after=AT,
    )
    fields.update(kw)
    return Delivery.accept(ApprovedInvitation(**fields), uuid.uuid4())  # type: ignore[arg-type]


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


# What a mail client reads: every message below is checked from its raw bytes.

BASE_URL = "https://trainvite.dev/unsubscribe"
LONG_INVITATION = (
    "customers/6f1c2d3e-4b5a-6789-abcd-ef0123456789/invitation-batches/"
    "0a1b2c3d-4e5f-6789-abcd-ef0123456789/drafts/9f8e7d6c-5b4a-3210-fedc-ba9876543210"
)


def sent_bytes(d: Delivery, base_url: str = BASE_URL) -> bytes:
    return build_message(d, base_url, "k").as_bytes()


def raw_field(raw: bytes, name: str) -> str:
    """The field's value as sent, unfolded (RFC 5322 2.2.3)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    [value] = re.findall(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, flags=re.M | re.I)
    return re.sub(r"\r\n(?=[ \t])", "", value).strip()


def test_one_click_unsubscribe_leaves_as_an_https_uri_in_angle_brackets() -> None:
    d = delivery(invitation=LONG_INVITATION)
    raw = sent_bytes(d)
    check_raw_message(raw, subject="Unlock Custom Dashboards")
    token = unsubscribe_token("k", "sarah@x.example")
    assert raw_field(raw, "List-Unsubscribe") == f"<{BASE_URL}?token={token}>"
    assert raw_field(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert raw_field(raw, "X-Trainvite-Invitation") == LONG_INVITATION


def test_a_long_unsubscribe_url_stays_one_unbroken_token() -> None:
    base_url = "https://unsubscribe.trainvite.dev/" + "/".join(["preferences"] * 40)
    recipient = "a" * 64 + "@" + "customer-mail-domain." * 8 + "example"
    raw = sent_bytes(delivery(recipient_email=recipient), base_url)
    check_raw_message(raw)
    token = unsubscribe_token("k", recipient)
    assert f"<{base_url}?token={token}>".encode() in raw


def test_an_unsubscribe_url_no_header_line_can_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than a header line"):
        sent_bytes(delivery(), "https://trainvite.dev/" + "u" * 1000)


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("Zoë Ångström-Øvergård", "Réservez votre place — tableaux de bord personnalisés avancés"),
        ("山田 太郎", "高度な分析トレーニングへのご招待 カスタムダッシュボードを使いこなす"),
        ("Sarah Chen", "Unlock " + "Custom-Dashboards-" * 10 + "today"),
        ("Sarah Chen", "Save 20% =?utf-8?q?not_an_encoded_word?= today"),
        ("Sarah", "x" * 2000),
        # Folded by the stdlib alone, the space before the second encoded-word is lost.
        ("Sarah", "\u0800" * 13 + " ¡ ¡"),
    ],
)
def test_names_and_subjects_read_back_as_approved(name: str, subject: str) -> None:
    raw = sent_bytes(delivery(recipient_name=name, sender_name=name, subject=subject))
    message = check_raw_message(raw, subject=subject)
    assert message["To"].addresses[0].display_name == name
    assert message["From"].addresses[0].display_name == name


def test_a_display_name_with_quotes_commas_and_line_breaks_stays_one_address() -> None:
    raw = sent_bytes(delivery(recipient_name='Chen, Sarah "SC"\r\nBcc: x@evil.example'))
    message = check_raw_message(raw)
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (
        'Chen, Sarah "SC" Bcc: x@evil.example',
        "sarah@x.example",
    )
    assert message["Bcc"] is None


def test_a_subject_with_line_breaks_cannot_add_a_header() -> None:
    raw = sent_bytes(delivery(subject="Hi\r\nBcc: x@evil.example\r\n\r\nbody"))
    message = check_raw_message(raw, subject="Hi Bcc: x@evil.example body")
    assert message["Bcc"] is None
    assert b"\r\nBcc:" not in raw


def test_non_ascii_bodies_leave_as_seven_bit() -> None:
    raw = sent_bytes(delivery(text_body="Hi Zoë,\n", html_body="<p>Hi Zoë — café</p>"))
    message = check_raw_message(raw)
    html = message.get_body(("html",))
    assert html is not None and html.get_content().splitlines() == ["<p>Hi Zoë — café</p>"]


def test_a_cancellation_says_cancel_in_its_calendar_part() -> None:
    ics = calendar_invitation(method="CANCEL")
    message = check_raw_message(sent_bytes(delivery(calendar_ics=ics)))
    [calendar] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "CANCEL"


def test_a_message_without_a_calendar_is_text_and_html() -> None:
    message = check_raw_message(sent_bytes(delivery(calendar_ics="")))
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def one_line(text: str) -> str:
    """What a header keeps of typed text: control characters and line breaks become spaces."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


header_text = st.text(st.characters(codec="utf-8"), max_size=300)


@given(name=header_text, subject=header_text)
# Found by this test: a space before the last word of a non-ASCII name was lost between two
# encoded-words.
@example(name="0" * 17 + "\u00a1" * 7 + "\U00010000" * 3 + " :", subject="x")
def test_any_name_and_subject_leave_as_a_well_formed_message(name: str, subject: str) -> None:
    raw = sent_bytes(delivery(recipient_name=name, sender_name=name, subject=subject))
    message = check_raw_message(raw, subject=one_line(subject))
    assert message["Bcc"] is None
    assert display_name(raw_field(raw, "To")) == one_line(name)


def display_name(field: str) -> str:
    """The display name as RFC 2047 6.2 reads it: the space between two adjacent encoded-words
    is not text (Python 3.11's address parser keeps it, so decode the phrase here)."""
    phrase = field.rpartition("<")[0].strip()
    if "=?" not in phrase:
        return str(
            email.message_from_string(f"To: {field}\n\n", policy=email.policy.default)["To"]
            .addresses[0]
            .display_name
        )
    return str(email.header.make_header(email.header.decode_header(phrase)))
