"""The RFC 5322 message of a delivery: text, HTML, calendar invitation, one-click unsubscribe."""

from __future__ import annotations

import email.policy
import email.utils
import re
import unicodedata
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import Policy
from typing import Any
from urllib.parse import urlencode

from services.dispatcher.domain.model import Delivery
from services.dispatcher.domain.unsubscribe import unsubscribe_token

# RFC 5322 2.1.1: a line holds at most 998 octets, whatever the policy's preferred length.
_LONGEST_LINE = 998
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
# RFC 5545 3.1 folds content lines with CRLF + one space or tab.
_ICS_FOLD = re.compile(r"\r?\n[ \t]")
_ICS_METHOD = re.compile(r"^METHOD(?:;[^:\r\n]*)?:([A-Za-z-]+)\r?$", re.MULTILINE | re.IGNORECASE)


class StructuredTokensHeader(BaseHeader):
    """A field made of visible ASCII tokens (`<https://...>`, a resource name) that clients
    match literally: never an RFC 2047 encoded-word, each token whole, folded at whitespace only.

    `List-Unsubscribe` (RFC 2369, RFC 8058) and `X-Trainvite-Invitation` are unstructured text
    to the stdlib, whose folding (`_refold_parse_tree`) wraps a token longer than a line as
    encoded-words; a client then sees `=?utf-8?q?...` instead of `<https://...>` and shows no
    unsubscribe. This class folds itself, so no parse tree is needed.
    """

    max_count = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        words = value.split()
        for word in words:
            if not _VISIBLE_ASCII.fullmatch(word):
                raise ValueError(f"not a header token: {word[:80]!r}")
        kwds["parse_tree"] = None
        kwds["decoded"] = " ".join(words)

    def init(self, name: str, *, parse_tree: Any, defects: Any) -> None:
        super().init(name, parse_tree=parse_tree, defects=defects)
        # Refused when set, not when sent: a token no line can hold is a configuration error.
        lines = self._lines(_LONGEST_LINE)
        if any(len(line) > _LONGEST_LINE for line in lines):
            raise ValueError(f"{name}: a token longer than a header line can hold")

    def _lines(self, limit: int) -> list[str]:
        # The first token stays on the field's first line: some clients do not strip the
        # whitespace a fold right after the colon leaves before `<https://...>`.
        words = str(self).split()
        lines = [f"{self.name}: {words[0]}" if words else f"{self.name}:"]
        for word in words[1:]:
            if len(lines[-1]) + 1 + len(word) <= limit:
                lines[-1] += f" {word}"
            else:
                lines.append(f" {word}")
        return lines

    def fold(self, *, policy: Policy) -> str:
        limit = min(policy.max_line_length or _LONGEST_LINE, _LONGEST_LINE)
        return policy.linesep.join(self._lines(limit)) + policy.linesep


def _header_factory() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "X-Trainvite-Invitation"):
        registry.map_to_type(name, StructuredTokensHeader)
    return registry


# SMTP: CRLF line ends. 7bit: non-ASCII bodies go quoted-printable or base64, since no sender
# negotiates 8BITMIME. 76: the stdlib fills a line with an encoded-word, and RFC 2047 allows an
# encoded-word at most 75 characters; a continuation line starts with one space. A field set
# already encoded and folded (set_raw) goes out as it is.
MAIL_POLICY = email.policy.SMTP.clone(
    header_factory=_header_factory(), cte_type="7bit", max_line_length=76, refold_source="none"
)


def _one_line(text: str) -> str:
    # Line breaks, tabs and other control characters never reach a header (RFC 5322 allows
    # visible characters and spaces there): each run of them becomes one space.
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


def _as_read(name: str, header: Any) -> Any:
    """The field as a client reads it: folded as it will be sent, then parsed and decoded."""
    value = MAIL_POLICY.fold(name, header).partition(":")[2]
    return email.policy.default.header_factory(name, re.sub(r"\r\n(?=[ \t])", "", value).strip())


def _encoded_words(name: str, text: str) -> str:
    # The RFC 2047 encoder of email.header keeps every space inside an encoded-word.
    return Header(text, "utf-8", header_name=name).encode(
        linesep=MAIL_POLICY.linesep, maxlinelen=MAIL_POLICY.max_line_length
    )


def _set_subject(message: EmailMessage, subject: str) -> None:
    # The stdlib decodes text that reads as an encoded-word when a field is set, then sends it as
    # typed; and its folding (before CPython gh-144156) can drop the space between two
    # encoded-words. Either way a client would show another subject than the approved one: such
    # a subject is sent wholly as encoded-words instead.
    message["Subject"] = subject
    if str(_as_read("Subject", message["Subject"])) != subject:
        del message["Subject"]
        message.set_raw("Subject", _encoded_words("Subject", subject))


def _set_address(message: EmailMessage, field: str, display_name: str, addr: str) -> None:
    name = _one_line(display_name)
    if name.isascii():
        # Address quotes the display name itself.
        username, _, domain = addr.partition("@")
        message[field] = Address(display_name=name, username=username, domain=domain)
        return
    # The stdlib folds a name it must encode into several encoded-words and can drop the space
    # between two of them (CPython gh-144156), which RFC 2047 readers then do not show; the
    # encoder of email.header keeps every space inside an encoded-word. The address itself is
    # plain ASCII (the approved invitation's addresses are checked when it is decoded).
    message.set_raw(field, f"{_encoded_words(field, name)} <{addr}>")


def _calendar_method(ics: str) -> str | None:
    """The iTIP METHOD of the calendar (REQUEST, CANCEL), which its MIME part must repeat."""
    found = _ICS_METHOD.search(_ICS_FOLD.sub("", ics))
    return found.group(1).upper() if found else None


def build_message(
    delivery: Delivery, unsubscribe_base_url: str, unsubscribe_key: str
) -> EmailMessage:
    """The message exactly as approved, with the headers that mail providers require."""
    a = delivery.approved
    message = EmailMessage(policy=MAIL_POLICY)
    message["Message-ID"] = delivery.message_id
    message["Date"] = email.utils.format_datetime(a.approved_at)
    _set_address(message, "From", a.sender_name, a.sender_email)
    _set_address(message, "To", a.recipient_name, a.recipient_email)
    _set_subject(message, _one_line(a.subject))
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
        method = _calendar_method(a.calendar_ics)
        # RFC 6047 2.4: the part's method parameter is the calendar's METHOD.
        params = {"method": method} if method else {}
        message.add_alternative(a.calendar_ics, subtype="calendar", params=params)
    return message
