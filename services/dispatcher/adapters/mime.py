"""The RFC 5322 message of a delivery: text, HTML, calendar invitation, one-click unsubscribe."""

from __future__ import annotations

import email.policy
import email.utils
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import urlencode

from services.dispatcher.domain.model import Delivery
from services.dispatcher.domain.unsubscribe import unsubscribe_token


def _address(display_name: str, addr: str) -> Address:
    # Address quotes the display name itself; line breaks never reach the header.
    name = " ".join(display_name.split())
    username, _, domain = addr.partition("@")
    return Address(display_name=name, username=username, domain=domain)


def build_message(
    delivery: Delivery, unsubscribe_base_url: str, unsubscribe_key: str
) -> EmailMessage:
    """The message exactly as approved, with the headers that mail providers require."""
    a = delivery.approved
    message = EmailMessage(policy=email.policy.SMTP)
    message["Message-ID"] = delivery.message_id
    message["Date"] = email.utils.format_datetime(a.approved_at)
    message["From"] = _address(a.sender_name, a.sender_email)
    message["To"] = _address(a.recipient_name, a.recipient_email)
    message["Subject"] = " ".join(a.subject.split())
    token = unsubscribe_token(unsubscribe_key, a.recipient_email)
    unsubscribe = f"{unsubscribe_base_url}?{urlencode({'token': token})}"
    # RFC 8058 one-click unsubscribe: Gmail shows it and POSTs to the URL.
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Trainvite-Invitation"] = a.invitation
    message.set_content(
        a.text_body + f"\n--\nTo stop receiving training invitations: {unsubscribe}\n"
    )
    message.add_alternative(a.html_body, subtype="html")
    if a.calendar_ics:
        message.add_alternative(a.calendar_ics, subtype="calendar", params={"method": "REQUEST"})
    return message
