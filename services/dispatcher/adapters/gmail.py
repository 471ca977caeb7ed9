"""Sending through the Gmail API as the CSM, with google-api-python-client.

No blind retries anywhere below us: `execute(num_retries=0)`, and httplib2's module-level
RETRIES set to 1 (it would re-send a POST once when a connection closes without an answer, and a
message accepted just before the drop would be stored twice). Our caller decides: a send whose
outcome is unknown is looked up in the mailbox's history (or, where that has expired, by its
Message-ID with `rfc822msgid:`) before any retry.

`httplib2.Http` is not thread-safe: each worker thread has its own, and its own client.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import json
import re
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httplib2
from googleapiclient.errors import HttpError

from services.dispatcher.adapters.google_api import GoogleApi
from services.dispatcher.service_layer.ports import (
    HistoryExpiredError,
    OutcomeUnknownError,
    PermanentSendError,
    RateLimitedError,
    SendResult,
    SentPage,
    TransientSendError,
)

# One attempt per request: a retried POST could send a message twice.
httplib2.RETRIES = 1


class ResendRefusedError(Exception):
    """httplib2 tried to send the same request a second time; we stopped it."""


class _OneShot:
    """A connection that sends each request at most once.

    Even with RETRIES = 1, httplib2 re-sends a request once when the first answer is a bad
    status line (a connection closed without an answer), taking it for a stale keep-alive
    connection; for a POST that Gmail accepted just before the drop, that is a second message.
    This refuses any second send of a request; the caller then treats the outcome as unknown.
    """

    awaiting_response = False

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if self.awaiting_response:
            raise ResendRefusedError("httplib2 tried to send a request a second time")
        self.awaiting_response = True
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        self.awaiting_response = False
        return response


class _OneShotHTTP(_OneShot, httplib2.HTTPConnectionWithTimeout):  # type: ignore[misc]
    pass


class _OneShotHTTPS(_OneShot, httplib2.HTTPSConnectionWithTimeout):  # type: ignore[misc]
    pass


class OneShotHttp(httplib2.Http):  # type: ignore[misc]
    """httplib2.Http whose connections never re-send a request (see _OneShot)."""

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        for conn in self.connections.values():
            conn.awaiting_response = False  # a new request: whatever the last one left
        if kwargs.get("connection_type") is None:
            https = uri.startswith("https:")
            kwargs["connection_type"] = _OneShotHTTPS if https else _OneShotHTTP
        return super().request(uri, *args, **kwargs)


SCOPES = [
    "https://www.googleapis.com/auth/gmail.send",
    # rfc822msgid: searches need readonly, not metadata; so do history and getProfile.
    "https://www.googleapis.com/auth/gmail.readonly",
]
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
# Timeouts, refused and dropped connections, TLS failures: OSError covers the socket's.
_NETWORK_ERRORS = (httplib2.HttpLib2Error, ssl.SSLError, OSError, ResendRefusedError)


def _details(error: HttpError) -> dict[str, Any]:
    try:
        details = json.loads(error.content.decode())
    except (ValueError, AttributeError):
        return {}
    inner = details.get("error") if isinstance(details, dict) else None
    return inner if isinstance(inner, dict) else {}


def _reason(error: HttpError) -> str:
    try:
        return str(_details(error)["errors"][0]["reason"])
    except (KeyError, IndexError, TypeError):
        return ""


# Gmail's user-rate-limit message: "User-rate limit exceeded.  Retry after 2026-12-01T12:00:00.000Z"
_RETRY_AFTER_IN_MESSAGE = re.compile(r"Retry after (\d{4}-\d\d-\d\dT[0-9:.]+Z)")


def parse_retry_after(value: str, now: dt.datetime) -> dt.timedelta | None:
    """An HTTP Retry-After value (RFC 9110: delta-seconds or an HTTP-date) as a wait from `now`;
    None when it is neither. A date in the past means no wait."""
    value = value.strip()
    if value.isdigit():
        return dt.timedelta(seconds=int(value))
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:  # "-0000": UTC with no claim about the local zone
        at = at.replace(tzinfo=dt.UTC)
    return max(at - now, dt.timedelta(0))


def retry_after(error: HttpError, now: dt.datetime) -> dt.timedelta | None:
    """How long Gmail asked us to wait: the Retry-After header, else the time its message
    names, else None."""
    header = error.resp.get("retry-after") if hasattr(error.resp, "get") else None
    if header:
        wait = parse_retry_after(str(header), now)
        if wait is not None:
            return wait
    found = _RETRY_AFTER_IN_MESSAGE.search(str(_details(error).get("message", "")))
    if found is None:
        return None
    at = dt.datetime.fromisoformat(found[1].replace("Z", "+00:00"))
    return max(at - now, dt.timedelta(0))


class GmailSender:
    """Sends as each CSM: a service account with domain-wide delegation impersonates the
    sender, or one OAuth token file authorizes a single mailbox."""

    def __init__(
        self,
        service_account_file: Path | None = None,
        token_file: Path | None = None,
        api_endpoint: str | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._google = GoogleApi(
            ("gmail", "v1"),
            SCOPES,
            service_account_file,
            token_file,
            api_endpoint,
            make_http=lambda: OneShotHttp(timeout=timeout_seconds),
        )

    def _client(self, sender: str) -> Any:
        """This thread's client of the sender's mailbox."""
        return self._google.client(sender)

    async def send(self, message: EmailMessage) -> SendResult:
        sender = message["From"].addresses[0].addr_spec
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode()
        return await asyncio.to_thread(self._send, sender, raw)

    def _send(self, sender: str, raw: str) -> SendResult:
        request = self._client(sender).users().messages().send(userId="me", body={"raw": raw})
        try:
            response = request.execute(num_retries=0)
        except HttpError as error:
            raise _classify(error, sent=True) from error
        except _NETWORK_ERRORS as error:
            # The request may have reached Gmail: only a lookup can tell.
            raise OutcomeUnknownError(f"{type(error).__name__}: {error}") from error
        return SendResult(provider_message_id=str(response["id"]))

    async def find(self, sender: str, message_id: str) -> str | None:
        return await asyncio.to_thread(self._find, sender, message_id)

    def _find(self, sender: str, message_id: str) -> str | None:
        query = f"rfc822msgid:{message_id.strip('<>')}"
        request = self._client(sender).users().messages().list(userId="me", q=query, maxResults=1)
        try:
            response = request.execute(num_retries=0)
        except HttpError as error:
            raise _classify(error, sent=False) from error
        except _NETWORK_ERRORS as error:
            raise TransientSendError(f"lookup failed: {type(error).__name__}: {error}") from error
        messages = response.get("messages") or []
        return str(messages[0]["id"]) if messages else None


class GmailHistory:
    """A sender's mailbox history: where it stands before a send, and what the sent mail gained
    since. History is not search-indexed, so a message Gmail accepted is there at once."""

    def __init__(self, sender: GmailSender, page_size: int = 100) -> None:
        self._sender = sender
        self._page_size = page_size

    async def position(self, mailbox: str) -> str:
        return await asyncio.to_thread(self._position, mailbox)

    def _position(self, mailbox: str) -> str:
        request = self._sender._client(mailbox).users().getProfile(userId="me")
        return str(_execute(request, "profile")["historyId"])

    async def sent_since(self, mailbox: str, position: str, page: str | None) -> SentPage:
        return await asyncio.to_thread(self._sent_since, mailbox, position, page)

    def _sent_since(self, mailbox: str, position: str, page: str | None) -> SentPage:
        request = (
            self._sender._client(mailbox)
            .users()
            .history()
            .list(
                userId="me",
                startHistoryId=position,
                historyTypes=["messageAdded"],
                labelId="SENT",
                maxResults=self._page_size,
                pageToken=page,
            )
        )
        try:
            response = _execute(request, "history")
        except PermanentSendError as error:
            if str(error).startswith("404"):
                raise HistoryExpiredError(f"no history from {position}") from error
            raise
        ids = [
            str(added["message"]["id"])
            for record in response.get("history") or []
            for added in record.get("messagesAdded") or []
        ]
        return SentPage(ids, response.get("nextPageToken"))

    async def message_id(self, mailbox: str, provider_message_id: str) -> str | None:
        return await asyncio.to_thread(self._message_id, mailbox, provider_message_id)

    def _message_id(self, mailbox: str, provider_message_id: str) -> str | None:
        request = (
            self._sender._client(mailbox)
            .users()
            .messages()
            .get(
                userId="me",
                id=provider_message_id,
                format="metadata",
                metadataHeaders=["Message-ID"],
            )
        )
        try:
            response = _execute(request, "message")
        except PermanentSendError as error:
            if str(error).startswith("404"):
                return None  # deleted since: not something we can match
            raise
        for header in (response.get("payload") or {}).get("headers") or []:
            if str(header.get("name", "")).lower() == "message-id":
                return str(header.get("value", ""))
        return None


def _execute(request: Any, what: str) -> dict[str, Any]:
    """Run a read-only call once; failures as the send errors they amount to."""
    try:
        response: dict[str, Any] = request.execute(num_retries=0)
    except HttpError as error:
        raise _classify(error, sent=False) from error
    except _NETWORK_ERRORS as error:
        raise TransientSendError(f"{what} failed: {type(error).__name__}: {error}") from error
    return response


class GmailBounces:
    """Reads bounce reports (DSNs from the mailer daemon) in a sender's mailbox."""

    def __init__(self, sender: GmailSender) -> None:
        self._sender = sender

    async def recent(self, mailbox: str, days: int = 7) -> list[tuple[str, bytes]]:
        """(provider id, raw RFC 5322 bytes) of the bounce reports of the last `days`."""
        return await asyncio.to_thread(self._recent, mailbox, days)

    def _recent(self, mailbox: str, days: int) -> list[tuple[str, bytes]]:
        messages = self._sender._client(mailbox).users().messages()
        try:
            listed = messages.list(
                userId="me", q=f"from:mailer-daemon newer_than:{days}d", maxResults=100
            ).execute(num_retries=0)
            found = []
            for item in listed.get("messages") or []:
                got = messages.get(userId="me", id=item["id"], format="raw").execute(num_retries=0)
                found.append((str(item["id"]), base64.urlsafe_b64decode(got["raw"])))
        except HttpError as error:
            raise _classify(error, sent=False) from error
        except _NETWORK_ERRORS as error:
            raise TransientSendError(f"bounce lookup failed: {error}") from error
        return found


def _classify(error: HttpError, sent: bool) -> Exception:
    """What an HTTP error from Gmail means for the message."""
    status = error.resp.status
    reason = _reason(error)
    if status == 429 or (status == 403 and reason in _RATE_LIMIT_REASONS):
        wait = retry_after(error, dt.datetime.now(dt.UTC))
        return RateLimitedError(f"{status} {reason or 'rate limited'}", wait)
    if status >= 500:
        # "A 200 does not always mean delivered", and a 5xx does not mean not sent.
        return (
            OutcomeUnknownError(f"{status} from Gmail") if sent else TransientSendError(f"{status}")
        )
    if status in (401,):
        return TransientSendError(f"401 {reason}: credentials refused")
    return PermanentSendError(f"{status} {reason or error.reason}".strip())
