"""A fake Gmail API on loopback, speaking the REST paths the real client calls.

`users.messages.send` (POST .../users/me/messages/send, JSON body with `raw`) and
`users.messages.list` (GET .../users/me/messages?q=rfc822msgid:...). Each bearer token is one
mailbox. Misbehaviours a test can switch on: a per-user quota answered with 429, a 503 after the
message was accepted, a dropped connection after it was accepted, slowness, a rejected address.
"""

from __future__ import annotations

import base64
import collections
import email
import email.policy
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SEND_PATH = "/gmail/v1/users/me/messages/send"
TOKEN_PATH = "/token"
LIST_PATH = "/gmail/v1/users/me/messages"


@dataclass
class StoredMessage:
    id: str
    message_id: str
    to: str
    subject: str
    raw: bytes


@dataclass
class Behaviour:
    """What the fake does wrong; every switch off by default."""

    # Quota units per user per rolling window (send 100, list 5); 0 means no quota.
    quota_units: int = 0
    quota_window_seconds: float = 60.0
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
        self.lookups = 0
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

    def _over_quota(self, user: str, units: int) -> bool:
        limit = self.behaviour.quota_units
        if not limit:
            return False
        now = time.monotonic()
        log = self._spent[user]
        while log and log[0][0] <= now - self.behaviour.quota_window_seconds:
            log.popleft()
        if sum(u for _, u in log) + units > limit:
            return True
        log.append((now, units))
        return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without this, Nagle's algorithm and
            # the client's delayed ack add 40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _user(self) -> str:
                return self.headers.get("Authorization", "").removeprefix("Bearer ").strip()

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, reason: str) -> None:
                self._reply(
                    status,
                    {
                        "error": {
                            "code": status,
                            "message": reason,
                            "errors": [{"reason": reason, "message": reason}],
                        }
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                if urlsplit(self.path).path == TOKEN_PATH:
                    self._token(data)
                    return
                body = json.loads(data or b"{}")
                if urlsplit(self.path).path != SEND_PATH:
                    self._error(404, "notFound")
                    return
                user = self._user()
                b = fake.behaviour
                with fake._lock:
                    if fake._over_quota(user, 100):
                        fake.rate_limited += 1
                        limited = True
                    else:
                        limited = False
                        fake.sends += 1
                        n = fake.sends
                if limited:
                    self._error(429, "rateLimitExceeded")
                    return
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
                    fake.mailboxes[user].append(stored)
                    if to in b.bounce_addresses:
                        report = bounce_report(parsed, to)
                        fake.inboxes[user].append(
                            StoredMessage(uuid.uuid4().hex[:16], "", user, "Undeliverable", report)
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
                form = parse_qs(data.decode())
                assertion = form.get("assertion", [""])[0]
                payload = assertion.split(".")[1] if assertion.count(".") == 2 else ""
                padded = payload + "=" * (-len(payload) % 4)
                claims = json.loads(base64.urlsafe_b64decode(padded) or b"{}")
                grant = form.get("grant_type", [""])[0]
                if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "sub" not in claims:
                    self._reply(400, {"error": "invalid_grant"})
                    return
                with fake._lock:
                    fake.tokens_issued += 1
                self._reply(
                    200,
                    {"access_token": claims["sub"], "token_type": "Bearer", "expires_in": 3600},
                )

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.startswith(LIST_PATH + "/"):
                    wanted_id = parts.path.rsplit("/", 1)[1]
                    with fake._lock:
                        everything = fake.inboxes[self._user()] + fake.mailboxes[self._user()]
                    match = next((m for m in everything if m.id == wanted_id), None)
                    if match is None:
                        self._error(404, "notFound")
                        return
                    raw = base64.urlsafe_b64encode(match.raw).decode()
                    self._reply(200, {"id": match.id, "raw": raw})
                    return
                if parts.path != LIST_PATH:
                    self._error(404, "notFound")
                    return
                user = self._user()
                with fake._lock:
                    if fake._over_quota(user, 5):
                        fake.rate_limited += 1
                        limited = True
                    else:
                        limited = False
                        fake.lookups += 1
                        n = fake.lookups
                if limited:
                    self._error(429, "rateLimitExceeded")
                    return
                if fake.behaviour.fail_lookup_every and n % fake.behaviour.fail_lookup_every == 0:
                    self._error(500, "backendError")
                    return
                query = parse_qs(parts.query).get("q", [""])[0]
                with fake._lock:
                    if query.startswith("from:mailer-daemon"):
                        found = list(fake.inboxes[user])
                    else:
                        wanted = query.removeprefix("rfc822msgid:").strip("<>")
                        found = [m for m in fake.mailboxes[user] if m.message_id == wanted]
                body: dict[str, Any] = {"resultSizeEstimate": len(found)}
                if found:
                    body["messages"] = [{"id": m.id, "threadId": m.id} for m in found]
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
