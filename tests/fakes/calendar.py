"""A fake Google Calendar API v3 on loopback, speaking the REST paths the real client calls.

`events.insert` (POST .../calendars/{calendarId}/events: 409 when the id exists),
`events.get` (GET .../events/{eventId}), `events.patch` (PATCH .../events/{eventId}, 412 when
If-Match names an etag the event no longer has) and `events.delete` (DELETE .../events/{eventId}:
the event kept with status "cancelled", as Google keeps it; 410 when deleted already), each event
with an etag that changes with every write; the token endpoint of a service account's JWT
bearer grant. Each bearer token is one user ("primary" is that user's calendar): the token
endpoint issues the impersonated user's address as the token, so a test sees as whom each call
was made. Misbehaviours a test can switch on: every call refused with a status, and another
writer changing the event just after we read it. Every request is recorded.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.google_endpoint import GoogleApiHandler, jwt_bearer_claims

ROOT = "/calendar/v3/"
TOKEN_PATH = "/token"


@dataclass(frozen=True)
class Request:
    """One request as it arrived: the method, the calendar user (bearer token), the event id
    (empty for an insert), the query, the If-Match header and the JSON body."""

    method: str
    user: str
    event_id: str
    query: dict[str, list[str]]
    if_match: str | None
    body: dict[str, Any]


@dataclass
class Behaviour:
    """What the fake does wrong; every switch off by default."""

    # Answer every calendar call with this status (and reason), as Google does when domain-wide
    # delegation lacks the scope (403) or a token is refused (401).
    refuse_status: int | None = None
    refuse_reason: str = "forbidden"
    # Answer the first calendar calls with 503 backendError (Google busy for a moment).
    unavailable_first: int = 0
    # Refuse every token as Google does when the service account's client id has no domain-wide
    # delegation for the scopes asked (401 unauthorized_client).
    refuse_tokens: bool = False
    # How many times, right after answering a get, another writer (the CSM in Google Calendar)
    # adds this guest to the event, so that a write based on that read meets a 412.
    interfere_after_gets: int = 0
    interfering_guest: str = "guest.of.the.csm@trainvite.dev"


@dataclass
class FakeCalendar:
    """Start with `with FakeCalendar() as calendar:`; `calendar.url` is the token endpoint's
    root and `calendar.api_endpoint` the API's base URL to configure."""

    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        # (user, event id) -> the event as stored.
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[Request] = []
        # The scopes each token was asked for, by user.
        self.scopes: dict[str, list[str]] = {}
        self.conflicts = 0
        self._etags = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def api_endpoint(self) -> str:
        return self.url.rstrip("/") + ROOT

    def __enter__(self) -> FakeCalendar:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def event(self, user: str, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.events.get((user, event_id))
            return copy.deepcopy(found) if found is not None else None

    def attendees(self, user: str, event_id: str) -> list[str]:
        event = self.event(user, event_id) or {}
        return [str(a["email"]) for a in event.get("attendees") or []]

    def requests_of(self, *methods: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method in methods]

    def _new_etag(self) -> str:
        return f'"{next(self._etags)}"'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(GoogleApiHandler):
            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                return dict(json.loads(data)) if data else {}

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                if method == "POST" and parts.path == TOKEN_PATH:
                    self._token(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                    return
                body = self._body() if method in ("POST", "PATCH") else {}
                path = parts.path.removeprefix(ROOT).split("/")
                # calendars/{calendarId}/events[/{eventId}]
                if len(path) not in (3, 4) or path[0] != "calendars" or path[2] != "events":
                    self._error(404, "notFound")
                    return
                user = self._user()
                event_id = unquote(path[3]) if len(path) == 4 else ""
                request = Request(
                    method=method,
                    user=user,
                    event_id=event_id or str(body.get("id", "")),
                    query=parse_qs(parts.query),
                    if_match=self.headers.get("If-Match"),
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(request)
                b = fake.behaviour
                with fake._lock:
                    busy = b.unavailable_first > 0
                    b.unavailable_first -= 1 if busy else 0
                if busy:
                    self._error(503, "backendError")
                elif b.refuse_status is not None:
                    self._error(b.refuse_status, b.refuse_reason)
                elif method == "POST" and not event_id:
                    self._insert(user, body)
                elif method == "GET" and event_id:
                    self._get(user, event_id)
                elif method == "PATCH" and event_id:
                    self._patch(user, event_id, body, request.if_match)
                elif method == "DELETE" and event_id:
                    self._delete(user, event_id)
                else:
                    self._error(405, "methodNotAllowed")

            def do_POST(self) -> None:  # noqa: N802 - http.server calls do_<METHOD>
                self._route("POST")

            def do_GET(self) -> None:  # noqa: N802 - http.server calls do_<METHOD>
                self._route("GET")

            def do_PATCH(self) -> None:  # noqa: N802 - http.server calls do_<METHOD>
                self._route("PATCH")

            def do_DELETE(self) -> None:  # noqa: N802 - http.server calls do_<METHOD>
                self._route("DELETE")

            def _insert(self, user: str, body: dict[str, Any]) -> None:
                event_id = str(body.get("id", ""))
                with fake._lock:
                    if (user, event_id) in fake.events:
                        answer = None
                    else:
                        answer = {**body, "status": "confirmed", "etag": fake._new_etag()}
                        fake.events[(user, event_id)] = answer
                        answer = copy.deepcopy(answer)
                if answer is None:
                    self._error(409, "duplicate")
                else:
                    self._reply(200, answer)

            def _get(self, user: str, event_id: str) -> None:
                with fake._lock:
                    stored = fake.events.get((user, event_id))
                    answer = copy.deepcopy(stored) if stored is not None else None
                    b = fake.behaviour
                    if stored is not None and b.interfere_after_gets > 0:
                        # Another writer, just after our read: our next write must see a 412.
                        b.interfere_after_gets -= 1
                        guests = stored.setdefault("attendees", [])
                        guests.append({"email": b.interfering_guest})
                        stored["etag"] = fake._new_etag()
                if answer is None:
                    self._error(404, "notFound")
                else:
                    self._reply(200, answer)

            def _patch(
                self, user: str, event_id: str, body: dict[str, Any], if_match: str | None
            ) -> None:
                with fake._lock:
                    stored = fake.events.get((user, event_id))
                    status = 200
                    if stored is None:
                        status = 404
                    elif if_match is not None and if_match != stored["etag"]:
                        fake.conflicts += 1
                        status = 412
                    else:
                        stored.update(body)
                        stored["etag"] = fake._new_etag()
                    answer = copy.deepcopy(stored) if status == 200 else None
                if answer is None:
                    self._error(status, "notFound" if status == 404 else "conditionNotMet")
                else:
                    self._reply(200, answer)

            def _delete(self, user: str, event_id: str) -> None:
                with fake._lock:
                    stored = fake.events.get((user, event_id))
                    status = 204
                    if stored is None:
                        status = 404
                    elif stored.get("status") == "cancelled":
                        status = 410
                    else:
                        stored["status"] = "cancelled"
                        stored["etag"] = fake._new_etag()
                if status == 204:
                    self._no_content()
                else:
                    self._error(status, "notFound" if status == 404 else "deleted")

            def _token(self, data: bytes) -> None:
                """OAuth 2.0 JWT bearer grant (RFC 7523), as a service account with domain-wide
                delegation uses it: the access token is the impersonated user's address."""
                claims = jwt_bearer_claims(data)
                if claims is None:
                    self._reply(400, {"error": "invalid_grant"})
                    return
                if fake.behaviour.refuse_tokens:
                    self._reply(
                        401,
                        {
                            "error": "unauthorized_client",
                            "error_description": "Client is unauthorized to retrieve access"
                            " tokens using this method, or client not authorized for any of the"
                            " scopes requested.",
                        },
                    )
                    return
                with fake._lock:
                    fake.scopes[str(claims["sub"])] = str(claims.get("scope", "")).split()
                self._issue_token(claims)

        return Handler
