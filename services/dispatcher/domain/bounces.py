"""Reading a delivery status notification (RFC 3464): who bounced, why, which message."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True)
class Bounce:
    recipient: str
    status: str
    diagnostic: str
    # The bounced message's Message-ID, when the report quotes it.
    message_id: str


def _fields(part: EmailMessage) -> list[dict[str, str]]:
    """The per-recipient field groups of a message/delivery-status part."""
    groups = []
    for block in part.iter_parts() if part.is_multipart() else [part]:
        groups.append({k.lower(): str(v) for k, v in block.items()})
    return groups


def read_bounces(raw: bytes) -> list[Bounce]:
    """The permanent failures (Action: failed, Status 5.x.x) a report lists; none if it is not
    a delivery status report."""
    report = email.message_from_bytes(raw, policy=email.policy.default)
    if report.get_content_type() != "multipart/report":
        return []
    message_id = ""
    status_part = None
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            status_part = part
        elif kind == "message/rfc822":
            quoted = part.get_payload(0)
            if isinstance(quoted, EmailMessage):
                message_id = str(quoted.get("Message-ID", "")).strip()
        elif kind == "text/rfc822-headers":
            headers = email.message_from_string(part.get_content(), policy=email.policy.default)
            message_id = str(headers.get("Message-ID", "")).strip()
    if status_part is None:
        return []
    bounces = []
    for group in _fields(status_part):
        recipient = group.get("final-recipient", "").split(";")[-1].strip().lower()
        status = group.get("status", "")
        if recipient and group.get("action", "").lower() == "failed" and status.startswith("5"):
            bounces.append(Bounce(recipient, status, group.get("diagnostic-code", ""), message_id))
    return bounces
