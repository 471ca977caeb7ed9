"""The edge's pages over fakes of the catalog and the dispatcher: what each link shows, what
only a POST does, and the page and status of every refusal."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from services.common import registration_links
from services.common.registration_links import LinkClaims, LinkKeys
from services.edge.bootstrap import bootstrap, web_app
from services.edge.service_layer.links import local_time
from services.edge.service_layer.ports import RegistrationState, Session, SessionState
from tests.fakes.edge import FakeCatalog, FakeUnsubscriber

NOW = dt.datetime(2027, 1, 10, 12, tzinfo=dt.UTC)
KEYS = LinkKeys.parse("k1:edge-unit-key-0123456789abcdef0123456789")
NAME = f"training-sessions/{uuid.uuid4()}"
DRAFT = f"customers/acme/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"
SESSION = Session(
    name=NAME,
    title="Dashboards <b>Deep</b> Dive",
    description="",
    presenter="Jordan Lee",
    start=dt.datetime(2027, 2, 4, 19, tzinfo=dt.UTC),
    duration=dt.timedelta(minutes=90),
    time_zone="America/New_York",
    join_url="https://meet.example/x",
    state=SessionState.SCHEDULED,
    seats_left=1,
    sequence=3,
)


def token(email: str = "ana@acme.example", tz: str = "Asia/Tokyo", **kw: object) -> str:
    claims = LinkClaims(DRAFT, NAME, email, tz, NOW + dt.timedelta(days=60))
    return registration_links.sign(KEYS, replace(claims, **kw), NOW)  # type: ignore[arg-type]


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog(sessions={NAME: SESSION}, clock=lambda: NOW)


@pytest.fixture
def unsubscriber() -> FakeUnsubscriber:
    return FakeUnsubscriber(tokens={"good-token": "ana@acme.example"})


@pytest.fixture
async def http(
    catalog: FakeCatalog, unsubscriber: FakeUnsubscriber
) -> AsyncIterator[httpx.AsyncClient]:
    app = web_app(bootstrap(catalog, unsubscriber, KEYS, lambda: NOW))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        yield client


def text(answer: httpx.Response) -> str:
    return html.unescape(answer.text)


def test_the_time_is_shown_in_the_invitees_zone_or_else_the_sessions() -> None:
    tokyo = local_time(SESSION, "Asia/Tokyo")
    assert (tokyo.date, tokyo.start, tokyo.end) == (
        "Friday, February 5, 2027",
        "4:00 AM",
        "5:30 AM",
    )
    assert (tokyo.zone_abbreviation, tokyo.zone_name) == ("JST", "Asia/Tokyo")
    for unknown in ("", "Mars/Olympus", "../etc/passwd"):
        own = local_time(SESSION, unknown)
        assert (own.start, own.zone_abbreviation, own.zone_name) == (
            "2:00 PM",
            "EST",
            "America/New_York",
        )


async def test_a_get_shows_and_never_registers(
    http: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    answer = await http.get(f"/r/{token()}")
    assert answer.status_code == 200
    page = text(answer)
    assert "Dashboards <b>Deep</b> Dive" in page  # the title is text, escaped in the HTML
    assert "&lt;b&gt;Deep&lt;/b&gt;" in answer.text
    assert "Friday, February 5, 2027, 4:00 AM \N{EN DASH} 5:30 AM JST" in page
    assert "Jordan Lee" in page and "1 left" in page and "ana@acme.example" in page
    assert f'action="/r/{token()}/register"' in page
    assert "register" not in catalog.calls and not catalog.registrations
    for header, value in {
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "x-frame-options": "DENY",
    }.items():
        assert answer.headers[header] == value
    assert "default-src 'none'" in answer.headers["content-security-policy"]


async def test_a_post_registers_then_the_next_person_waits(
    http: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    first = await http.post(f"/r/{token()}/register")
    assert first.status_code == 200 and "You're registered" in text(first)
    assert "/calendar.ics" in first.text and "Cancel my registration" in first.text
    second = await http.post(f"/r/{token('bo@acme.example')}/register")
    assert "waitlist: number 1" in text(second)
    assert catalog.registrations[(NAME, "ana@acme.example")].state is RegistrationState.REGISTERED
    again = await http.get(f"/r/{token()}")
    assert "You're registered" in text(again) and 'action="/r/' in again.text
    cancelled = await http.post(f"/r/{token()}/cancel")
    assert "Your registration is cancelled" in text(cancelled)
    assert ">Register</button>" in cancelled.text


async def test_the_calendar_file_is_the_session_as_it_is_now(
    http: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    moved = SESSION.start + dt.timedelta(days=1)
    catalog.sessions[NAME] = replace(SESSION, start=moved, sequence=4)
    answer = await http.get(f"/r/{token()}/calendar.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    assert "attachment" in answer.headers["content-disposition"]
    body = answer.text
    assert f"DTSTART:{moved:%Y%m%dT%H%M%SZ}" in body and "SEQUENCE:4" in body
    assert f"UID:{NAME.rsplit('/', 1)[1]}@trainvite.dev" in body


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda: token()[:40], 400, "incomplete"),
        (lambda: "x" * 30, 400, "incomplete"),
        (
            lambda: registration_links.sign(
                LinkKeys.random(), LinkClaims(DRAFT, NAME, "a@b.c", "", NOW + dt.timedelta(1)), NOW
            ),
            403,
            "isn't valid",
        ),
        (lambda: token(expires=NOW - dt.timedelta(minutes=5)), 410, "expired"),
        (lambda: token(training_session=f"training-sessions/{uuid.uuid4()}"), 404, "can't find"),
    ],
)
async def test_refused_links_say_why_and_touch_nothing(
    http: httpx.AsyncClient, catalog: FakeCatalog, make: object, status: int, words: str
) -> None:
    bad = make()  # type: ignore[operator]
    for method, path in (("GET", ""), ("POST", "/register"), ("POST", "/cancel")):
        answer = await http.request(method, f"/r/{bad}{path}")
        assert answer.status_code == status, (method, answer.text)
        assert words in text(answer)
    assert not catalog.registrations
    if status != 404:  # a bad token never reaches the catalog; an unknown session it refuses
        assert "register" not in catalog.calls and "cancel" not in catalog.calls


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"state": SessionState.CANCELLED, "cancel_reason": "Presenter is ill"}, "was cancelled"),
        ({"start": NOW - dt.timedelta(minutes=10)}, "already started"),
        ({"state": SessionState.COMPLETED, "start": NOW - dt.timedelta(days=2)}, "is over"),
    ],
)
async def test_a_closed_session_takes_no_registration(
    http: httpx.AsyncClient, catalog: FakeCatalog, change: dict[str, object], words: str
) -> None:
    catalog.sessions[NAME] = replace(SESSION, **change)  # type: ignore[arg-type]
    for answer in (await http.get(f"/r/{token()}"), await http.post(f"/r/{token()}/register")):
        assert answer.status_code == 410 and words in text(answer)
    assert not catalog.registrations


async def test_a_refusal_of_the_catalog_is_a_409_and_an_outage_a_503(
    http: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    catalog.refuse = "registration has closed for this session."
    refused = await http.post(f"/r/{token()}/register")
    assert refused.status_code == 409 and "registration has closed" in text(refused)
    catalog.away = True
    away = await http.post(f"/r/{token()}/register")
    assert away.status_code == 503 and away.headers["retry-after"] == "30"
    assert "try again" in text(away)


async def test_unsubscribe_asks_on_get_and_acts_on_post(
    http: httpx.AsyncClient, unsubscriber: FakeUnsubscriber
) -> None:
    asked = await http.get("/unsubscribe", params={"token": "good-token"})
    assert asked.status_code == 200 and 'method="post"' in asked.text
    assert 'action="/unsubscribe?token=good-token"' in asked.text
    assert not unsubscriber.unsubscribed
    done = await http.post(
        "/unsubscribe", params={"token": "good-token"}, content="List-Unsubscribe=One-Click"
    )
    assert done.status_code == 200 and "ana@acme.example" in done.text
    assert unsubscriber.unsubscribed == ["ana@acme.example"]
    for bad in ({"token": "forged"}, {}):
        answer = await http.post("/unsubscribe", params=bad)
        assert answer.status_code == 400 and "isn't valid" in text(answer)
    assert (await http.get("/unsubscribe")).status_code == 400


async def test_health(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).text == "ok"
