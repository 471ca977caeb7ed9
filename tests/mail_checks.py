"""A sent message read the way a mail client reads it: from its raw bytes, against the RFCs.

Every sender (the .eml outbox, the SMTP relay, the Gmail API's `raw`) puts the bytes of
`message.as_bytes()` under the SMTP policy on the wire, so one set of rules applies to all three:
CRLF line ends (RFC 5322 2.1, RFC 5321 2.3.8), 7-bit bytes (no sender negotiates 8BITMIME or
SMTPUTF8 for them), lines of at most 998 octets (RFC 5322 2.1.1), the required headers once,
structured headers without RFC 2047 encoded-words, RFC 8058 one-click unsubscribe, and the
multipart/alternative of text, HTML and an optional RFC 6047 calendar invitation.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from collections.abc import Iterable
from email.message import EmailMessage
from urllib.parse import urlsplit

import vobject

MAX_LINE_OCTETS = 998
REQUIRED_ONCE = ("From", "To", "Date", "Message-ID", "MIME-Version", "Subject")
# Fields whose grammar has no place for an encoded-word (RFC 2047 section 5 allows them only in
# unstructured text, comments and phrases); a client reading one would see `=?utf-8?q?...`.
STRUCTURED = (
    "Message-ID",
    "Date",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "X-Trainvite-Invitation",
    "Content-Type",
    "Content-Transfer-Encoding",
)
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
ANGLE_URI = re.compile(r"<([^<>\s]+)>")
ALTERNATIVES = ["text/plain", "text/html"]


def _unfold(value: str) -> str:
    # RFC 5322 2.2.3: unfolding removes each CRLF that is followed by whitespace, nothing else.
    return re.sub(r"\r\n(?=[ \t])", "", value)


def _lines(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\r\n"), "the message does not end with CRLF"
    lines = raw[:-2].split(b"\r\n")
    for number, line in enumerate(lines, 1):
        assert b"\n" not in line and b"\r" not in line, f"line {number}: a bare CR or LF"
        assert len(line) <= MAX_LINE_OCTETS, f"line {number}: {len(line)} octets"
    return lines


def _raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, unfolded value) of the top-level header section, exactly as sent."""
    section = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    fields: list[tuple[str, str]] = []
    for field in re.split(r"\r\n(?![ \t])", section):
        name, colon, value = field.partition(":")
        assert colon and name and not name[0].isspace(), f"not a header field: {field[:80]!r}"
        fields.append((name, _unfold(value).strip(" \t")))
    return fields


def _one(headers: list[tuple[str, str]], name: str) -> str:
    values = [v for n, v in headers if n.lower() == name.lower()]
    assert len(values) == 1, f"{name}: {len(values)} fields"
    return values[0]


def _check_one_click_unsubscribe(headers: list[tuple[str, str]]) -> str:
    """RFC 8058: the POST field exact, and an https URI in angle brackets (RFC 2369); the URI."""
    assert _one(headers, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    value = _one(headers, "List-Unsubscribe")
    items = [item.strip(" \t") for item in value.split(",")]
    uris = [ANGLE_URI.fullmatch(item) for item in items]
    assert all(uris), f"List-Unsubscribe is not a list of <URI>: {value!r}"
    https = [m.group(1) for m in uris if m and _one_click_uri(m.group(1))]
    assert https, f"List-Unsubscribe has no https URI: {value!r}"
    assert urlsplit(https[0]).netloc, f"List-Unsubscribe URI has no host: {https[0]!r}"
    return https[0]


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _one_click_uri(uri: str) -> bool:
    """An https URI, as RFC 8058 asks; or plain http on this machine's loopback address, where
    a development stack (make run) serves its edge and no mail provider ever looks."""
    parts = urlsplit(uri)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


def _check_addresses(message: EmailMessage, headers: list[tuple[str, str]]) -> None:
    for name in ("From", "To"):
        raw_value = _one(headers, name)
        angle = re.search(r"<([^<>]*)>\s*$", raw_value)
        addr_spec = angle.group(1) if angle else raw_value
        assert "=?" not in addr_spec, f"{name}: an encoded-word in the address {raw_value!r}"
        parsed = message[name]
        assert len(parsed.addresses) == 1, f"{name}: {len(parsed.addresses)} addresses"
        assert parsed.addresses[0].addr_spec == addr_spec, f"{name}: {raw_value!r}"


def _check_calendar(part: EmailMessage) -> None:
    """RFC 6047 2.4: the part's method is the calendar's METHOD; a second parser reads it."""
    ics = part.get_content()
    calendar = vobject.readOne(ics)
    method = str(calendar.method.value).upper()
    assert method in ("REQUEST", "CANCEL"), method
    assert str(part.get_param("method") or "").upper() == method, part["Content-Type"]
    event = calendar.vevent
    for name in ("uid", "dtstart", "sequence"):
        assert str(getattr(event, name).value), f"VEVENT without {name.upper()}"


def check_raw_message(raw: bytes, *, subject: str | None = None) -> EmailMessage:
    """The message parsed from `raw`, after asserting what a mail client relies on.

    `subject`, when given, is the approved subject the decoded Subject must equal.
    """
    assert raw.isascii(), "8-bit bytes in a message sent without 8BITMIME or SMTPUTF8"
    _lines(raw)
    parser = email.parser.BytesParser(policy=email.policy.default)
    message = parser.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    headers = _raw_headers(raw)

    for name in REQUIRED_ONCE:
        _one(headers, name)
    for name, value in headers:
        assert "\r" not in value and "\n" not in value, f"{name}: a line break in the value"
        for word in ENCODED_WORD.findall(value):
            assert len(word) <= 75, f"{name}: an encoded-word longer than 75 characters"
    for name in STRUCTURED:
        for header_name, value in headers:
            if header_name.lower() == name.lower():
                assert "=?" not in value, f"{name}: an encoded-word in {value!r}"
    assert MESSAGE_ID.fullmatch(_one(headers, "Message-ID")), _one(headers, "Message-ID")
    assert _one(headers, "MIME-Version") == "1.0"
    date = message["Date"].datetime
    assert date is not None and date.tzinfo is not None, f"Date: {_one(headers, 'Date')!r}"
    _check_addresses(message, headers)
    _one(headers, "X-Trainvite-Invitation")
    _check_one_click_unsubscribe(headers)
    if subject is not None:
        assert str(message["Subject"]) == subject, (str(message["Subject"]), subject)

    for part in message.walk():
        assert not part.defects, f"{part.get_content_type()}: {part.defects}"
        for name, value in part.items():
            assert not getattr(value, "defects", ()), f"{name}: {value.defects}"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    types = [p.get_content_type() for p in parts]
    assert types in (ALTERNATIVES, [*ALTERNATIVES, "text/calendar"]), types
    for alternative in parts:
        assert isinstance(alternative, EmailMessage)
        assert alternative.get_content_charset() == "utf-8", alternative["Content-Type"]
        alternative.get_content()  # decodes under its Content-Transfer-Encoding
    if types[-1] == "text/calendar":
        calendar_part = parts[-1]
        assert isinstance(calendar_part, EmailMessage)
        _check_calendar(calendar_part)
    return message


def check_raw_messages(raw_messages: Iterable[bytes]) -> list[EmailMessage]:
    """Each of the messages, checked as `check_raw_message` does."""
    return [check_raw_message(raw) for raw in raw_messages]
