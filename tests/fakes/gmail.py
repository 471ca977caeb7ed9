"""A fake Gmail API on loopback, speaking the REST paths the real client calls.

`users.messages.send` (POST .../users/me/messages/send, JSON body with `raw`),
`users.messages.list` (GET .../users/me/messages?q=rfc822msgid:...), `users.messages.get` (raw or
metadata), `users.getProfile` and `users.history.list` (messageAdded, by label, paged). Each
bearer token is one mailbox, with a history id that grows with each message added. Misbehaviours
a test can switch on: a per-user quota answered with 429 (and Retry-After), 429s on chosen sends,
a 503 after the message was accepted, a dropped connection after it was accepted, slowness, a
rejected address, a search index that lags, a history that keeps only its latest records.
Every request is recorded with the time it arrived.
"""

from __future__ import annotations

import base64
import collections
import email
import email.policy
import itertools
import json
import math
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.google_endpoint import GoogleApiHandler, jwt_bearer_claims

SEND_PATH = "/gmail/v1/users/me/messages/send"
TOKEN_PATH = "/token"
LIST_PATH = "/gmail/v1/users/me/messages"
PROFILE_PATH = "/gmail/v1/users/me/profile"
HISTORY_PATH = "/gmail/v1/users/me/history"
# Gmail's published quota units per call.
COSTS = {"send": 100, "search": 5, "get": 5, "profile": 1, "history": 2}
FIRST_HISTORY_ID = 1000


@dataclass
class StoredMessage:
    id: str
    message_id: str
    to: str
    subject: str
    raw: bytes
    # When it was added (time.monotonic()), and the mailbox's history id it was added at.
    added_at: float = 0.0
    history_id: int = 0
    labels: tuple[str, ...] = ("SENT",)


@dataclass
class Behaviour:
    """What the fake does wrong; every switch off by default."""

    # Quota units per user per rolling window (see COSTS); 0 means no quota. A 429 for the quota
    # says in Retry-After (whole seconds) when the window has room again, unless switched off.
    quota_units: int = 0
    quota_window_seconds: float = 60.0
    quota_retry_after: bool = True
    # Send requests (numbered from 1) answered with 429, saying Retry-After `retry_after` (a
    # header value: delta-seconds or an HTTP-date; None sends no header).
    rate_limit_sends: set[int] = field(default_factory=set)
    retry_after: str | None = None
    # Accept the message, then answer 503 (every n-th send; 0 never).
    fail_after_accept_every: int = 0
    # Accept the message, then close the connection without answering (every n-th send).
    drop_after_accept_every: int = 0
    # Seconds to wait before answering a send.
    delay_seconds: float = 0.0
    # Recipients refused with 400 invalidArgument.
    rejected_addresses: set[str] = field(default_factory=set)
    # Answer lookups with 500 (every n-th; 0 never).
    fail_lookup_every: int = 0
    # Recipients accepted, then bounced: a delivery status report lands in the sender's mailbox.
    bounce_addresses: set[str] = field(default_factory=set)
    # Seconds before a message added to the mailbox is found by an rfc822msgid: search.
    search_lag_seconds: float = 0.0
    # History records kept per mailbox (None: all); history.list from an id older than the oldest
    # kept answers 404, as Gmail does for an expired startHistoryId.
    history_kept: int | None = None
    # History records per page at most.
    history_page_size: int = 100


class FakeGmail:
    """Start with `with FakeGmail() as gmail:`; `gmail.url` is the API endpoint to configure."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.mailboxes: dict[str, list[StoredMessage]] = defaultdict(list)
        # What arrives in each mailbox: bounce reports.
        self.inboxes: dict[str, list[StoredMessage]] = defaultdict(list)
        self.rate_limited = 0
        self.tokens_issued = 0
        self.sends = 0
        # Send requests per recipient, refused ones included.
        self.attempts: collections.Counter[str] = collections.Counter()
        # rfc822msgid: searches, getProfile calls, history.list calls, messages.get calls.
        self.lookups = 0
        self.profiles = 0
        self.history_lists = 0
        self.metadata_gets = 0
        # (time.monotonic() on arrival, kind: send, search, get, profile, history, token).
        self.requests: list[tuple[float, str]] = []
        self._send_requests = 0
        self._reads = 0
        self._history_ids: dict[str, itertools.count[int]] = defaultdict(
            lambda: itertools.count(FIRST_HISTORY_ID + 1)
        )
        self._spent: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> FakeGmail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered(self, user: str) -> list[StoredMessage]:
        with self._lock:
            return list(self.mailboxes[user])

    def requests_of(self, *kinds: str) -> list[float]:
        """Arrival times of the requests of these kinds."""
        with self._lock:
            return [at for at, kind in self.requests if kind in kinds]

    def _history_id(self, user: str) -> int:
        """The mailbox's current history id (caller holds the lock)."""
        stored = self.inboxes[user] + self.mailboxes[user]
        return max((m.history_id for m in stored), default=FIRST_HISTORY_ID)

    def _add(self, user: str, message: StoredMessage, inbox: bool = False) -> None:
        """Store a message in the mailbox, moving its history on (caller holds the lock)."""
        message.added_at = time.monotonic()
        message.history_id = next(self._history_ids[user])
        (self.inboxes if inbox else self.mailboxes)[user].append(message)

    def _over_quota(self, user: str, units: int) -> float | None:
        """None when the call fits the user's quota (and is counted), else seconds until it
        would (caller holds the lock)."""
        limit = self.behaviour.quota_units
        if not limit:
            return None
        now = time.monotonic()
        window = self.behaviour.quota_window_seconds
        log = self._spent[user]
        while log and log[0][0] <= now - window:
            log.popleft()
        excess = sum(u for _, u in log) + units - limit
        if excess <= 0:
            log.append((now, units))
            return None
        wait = 0.0
        for at, spent in log:
            wait = at + window - now
            excess -= spent
            if excess <= 0:
                break
        return max(wait, 0.0)

    def _admit(self, user: str, kind: str) -> tuple[bool, str | None]:
        """Record the request; (admitted, Retry-After value of the 429 otherwise)."""
        with self._lock:
            self.requests.append((time.monotonic(), kind))
            if kind == "send":
                self._send_requests += 1
                if self._send_requests in self.behaviour.rate_limit_sends:
                    self.rate_limited += 1
                    return False, self.behaviour.retry_after
            wait = self._over_quota(user, COSTS[kind])
            if wait is not None:
                self.rate_limited += 1
                header = str(math.ceil(wait)) if self.behaviour.quota_retry_after else None
                return False, header
        return True, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(GoogleApiHandler):
            def _admitted(self, kind: str) -> bool:
                """Count the call against the quota; answer 429 when it does not fit."""
                admitted, retry_after = fake._admit(self._user(), kind)
                if not admitted:
                    headers = {"Retry-After": retry_after} if retry_after is not None else {}
                    self._error(429, "rateLimitExceeded", headers)
                return admitted

            def do_POST(self) -> None:  # noqa: N802 - http.server calls do_<METHOD>
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                if urlsplit(self.path).path == TOKEN_PATH:
                    with fake._lock:
                        fake.requests.append((time.monotonic(), "token"))
                    self._token(data)
                    return
                body = json.loads(data or b"{}")
                if urlsplit(self.path).path != SEND_PATH:
                    self._error(404, "notFound")
                    return
                user = self._user()
                b = fake.behaviour
                if not self._admitted("send"):
                    return
                with fake._lock:
                    fake.sends += 1
                    n = fake.sends
                if b.delay_seconds:
                    time.sleep(b.delay_seconds)
                raw = base64.urlsafe_b64decode(body["raw"])
                parsed = email.message_from_bytes(raw, policy=email.policy.default)
                to = str(parsed["To"].addresses[0].addr_spec)
                with fake._lock:
                    fake.attempts[to] += 1
                if to in b.rejected_addresses:
                    self._error(400, "invalidArgument")
                    return
                stored = StoredMessage(
                    id=uuid.uuid4().hex[:16],
                    message_id=str(parsed["Message-ID"]).strip("<>"),
                    to=to,
                    subject=str(parsed["Subject"]),
                    raw=raw,
                )
                with fake._lock:
                    fake._add(user, stored)
                    if to in b.bounce_addresses:
                        report = bounce_report(parsed, to)
                        fake._add(
                            user,
                            StoredMessage(
                                uuid.uuid4().hex[:16],
                                "",
                                user,
                                "Undeliverable",
                                report,
                                labels=("INBOX",),
                            ),
                            inbox=True,
                        )
                if b.drop_after_accept_every and n % b.drop_after_accept_every == 0:
                    self.close_connection = True
                    self.connection.close()
                    return
                if b.fail_after_accept_every and n % b.fail_after_accept_every == 0:
                    self._error(503, "backendError")
                    return
                self._reply(200, {"id": stored.id, "threadId": stored.id, "labelIds": ["SENT"]})

            def _token(self, data: bytes) -> None:
                """OAuth 2.0 JWT bearer grant (RFC 7523), as a service account with domain-wide
                delegation uses it: the access token is the impersonated user's address."""
                claims = jwt_bearer_claims(data)
                if claims is None:
                    self._reply(400, {"error": "invalid_grant"})
                    return
                with fake._lock:
                    fake.tokens_issued += 1
                self._issue_token(claims)

            def _failing_read(self) -> bool:
                """Every n-th lookup (search or history) answers 500 when asked to."""
                every = fake.behaviour.fail_lookup_every
                with fake._lock:
                    fake._reads += 1
                    n = fake._reads
                if every and n % every == 0:
                    self._error(500, "backendError")
                    return True
                return False

            def do_GET(self) -> None:  # noqa: N802 - http.server calls do_<METHOD>
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if parts.path.startswith(LIST_PATH + "/"):
                    self._get(parts.path.rsplit("/", 1)[1], query)
                elif parts.path == LIST_PATH:
                    self._search(query)
                elif parts.path == PROFILE_PATH:
                    self._profile()
                elif parts.path == HISTORY_PATH:
                    self._history(query)
                else:
                    self._error(404, "notFound")

            def _get(self, wanted_id: str, query: dict[str, list[str]]) -> None:
                if not self._admitted("get"):
                    return
                user = self._user()
                with fake._lock:
                    fake.metadata_gets += 1
                    everything = fake.inboxes[user] + fake.mailboxes[user]
                match = next((m for m in everything if m.id == wanted_id), None)
                if match is None:
                    self._error(404, "notFound")
                    return
                if query.get("format", ["full"])[0] == "metadata":
                    wanted = {h.lower() for h in query.get("metadataHeaders", [])}
                    parsed = email.message_from_bytes(match.raw, policy=email.policy.default)
                    headers = [
                        {"name": name, "value": str(value)}
                        for name, value in parsed.items()
                        if not wanted or name.lower() in wanted
                    ]
                    self._reply(
                        200,
                        {
                            "id": match.id,
                            "threadId": match.id,
                            "labelIds": list(match.labels),
                            "historyId": str(match.history_id),
                            "payload": {"headers": headers},
                        },
                    )
                    return
                raw = base64.urlsafe_b64encode(match.raw).decode()
                self._reply(200, {"id": match.id, "raw": raw})

            def _search(self, query: dict[str, list[str]]) -> None:
                if not self._admitted("search"):
                    return
                user = self._user()
                with fake._lock:
                    fake.lookups += 1
                if self._failing_read():
                    return
                q = query.get("q", [""])[0]
                # The search index shows a message only some time after it was added.
                indexed_before = time.monotonic() - fake.behaviour.search_lag_seconds
                with fake._lock:
                    if q.startswith("from:mailer-daemon"):
                        found = list(fake.inboxes[user])
                    else:
                        wanted = q.removeprefix("rfc822msgid:").strip("<>")
                        found = [m for m in fake.mailboxes[user] if m.message_id == wanted]
                    found = [m for m in found if m.added_at <= indexed_before]
                body: dict[str, Any] = {"resultSizeEstimate": len(found)}
                if found:
                    body["messages"] = [{"id": m.id, "threadId": m.id} for m in found]
                self._reply(200, body)

            def _profile(self) -> None:
                if not self._admitted("profile"):
                    return
                user = self._user()
                with fake._lock:
                    fake.profiles += 1
                    total = len(fake.inboxes[user]) + len(fake.mailboxes[user])
                    history_id = fake._history_id(user)
                self._reply(
                    200,
                    {
                        "emailAddress": user,
                        "messagesTotal": total,
                        "threadsTotal": total,
                        "historyId": str(history_id),
                    },
                )

            def _history(self, query: dict[str, list[str]]) -> None:
                if not self._admitted("history"):
                    return
                user = self._user()
                with fake._lock:
                    fake.history_lists += 1
                if self._failing_read():
                    return
                b = fake.behaviour
                try:
                    start = int(query["startHistoryId"][0])
                except (KeyError, ValueError):
                    self._error(400, "invalidArgument")
                    return
                label = query.get("labelId", [None])[0]
                types = query.get("historyTypes", ["messageAdded"])
                with fake._lock:
                    records = sorted(
                        fake.inboxes[user] + fake.mailboxes[user], key=lambda m: m.history_id
                    )
                    current = fake._history_id(user)
                if b.history_kept is None:
                    kept = records
                else:
                    kept = records[len(records) - b.history_kept :] if b.history_kept else []
                oldest_kept = kept[0].history_id if kept else current + 1
                if start < oldest_kept - 1:
                    self._error(404, "notFound")
                    return
                wanted = [
                    m
                    for m in kept
                    if m.history_id > start
                    and "messageAdded" in types
                    and (label is None or label in m.labels)
                ]
                offset = int(query.get("pageToken", ["0"])[0] or "0")
                size = min(int(query.get("maxResults", ["100"])[0]), b.history_page_size)
                page = wanted[offset : offset + size]
                body: dict[str, Any] = {"historyId": str(current)}
                if page:
                    body["history"] = [
                        {
                            "id": str(m.history_id),
                            "messages": [{"id": m.id, "threadId": m.id}],
                            "messagesAdded": [
                                {
                                    "message": {
                                        "id": m.id,
                                        "threadId": m.id,
                                        "labelIds": list(m.labels),
                                    }
                                }
                            ],
                        }
                        for m in page
                    ]
                if offset + size < len(wanted):
                    body["nextPageToken"] = str(offset + size)
                self._reply(200, body)

        return Handler


def token_file(path: Any, user: str) -> Any:
    """An OAuth authorized-user file whose access token is `user` and does not expire soon,
    so the real client sends it as the bearer token without refreshing."""
    path.write_text(
        json.dumps(
            {
                "token": user,
                "refresh_token": "unused",
                "client_id": "fake",
                "client_secret": "fake",
                "token_uri": "http://127.0.0.1:9/token",
                "expiry": "2099-01-01T00:00:00Z",
                "scopes": [
                    "https://www.googleapis.com/auth/gmail.send",
                    "https://www.googleapis.com/auth/gmail.readonly",
                ],
            }
        )
    )
    return path


def service_account_file(path: Any, token_uri: str) -> Any:
    """A service account key file (a fresh RSA key) whose tokens come from `token_uri`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "fake",
                "private_key_id": "fake",
                "private_key": pem,
                "client_email": "dispatcher@fake.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path


def bounce_report(original: Any, recipient: str) -> bytes:
    """A delivery status notification (RFC 3464) for `original`, as a mailer daemon sends it."""
    quoted = "".join(
        f"{k}: {v}\r\n" for k, v in original.items() if k in ("Message-ID", "To", "Subject")
    )
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {original['From']}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\n"
        "Content-Type: text/plain\r\n\r\n"
        f"Your message wasn't delivered to {recipient}.\r\n"
        "\r\n--b1\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 The email account does not exist\r\n"
        "\r\n--b1\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{quoted}"
        "\r\n--b1--\r\n"
    ).encode()
