"""Zoom's webhooks on the edge over a fake JetStream: signatures, the URL validation
challenge, each event's translation, and every refusal with nothing published."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.edge.bootstrap import bootstrap, web_app
from services.edge.service_layer import zoom
from services.edge.service_layer.ports import ActivityKind
from services.edge.service_layer.zoom import BadWebhook, Unsigned, Webhooks
from tests.fakes.edge import FakeCatalog, FakeUnsubscriber
from tests.fakes.webhooks import FakeActivityPublisher

NOW = dt.datetime(2027, 1, 14, 17, 30, tzinfo=dt.UTC)
SECRET = "zoom-secret-token-new"
OLD_SECRET = "zoom-secret-token-old"
KEYS_SECRET = "k1:edge-unit-key-0123456789abcdef0123456789"


def sign(body: bytes, secret: str = SECRET, at: dt.datetime = NOW) -> dict[str, str]:
    """Headers as Zoom sends them, computed here from Zoom's documented recipe."""
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(
        secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    return {"x-zm-request-timestamp": timestamp, "x-zm-signature": f"v0={digest}"}


def joined(
    email: str = "Ana@CloudTech.example", at: str = "2027-01-14T16:05:00Z"
) -> dict[str, Any]:
    return {
        "event": "webinar.participant_joined",
        "event_ts": 1_800_000_000_000,
        "payload": {
            "account_id": "acc",
            "object": {
                "id": "84512347702",
                "uuid": "4444AAAiAAAAAiAiAiiAii==",
                "participant": {
                    "user_id": "16778240",
                    "participant_uuid": "p-ana-1",
                    "user_name": "Ana",
                    "email": email,
                    "join_time": at,
                },
            },
        },
    }


@pytest.fixture
def publisher() -> FakeActivityPublisher:
    return FakeActivityPublisher()


def _app(publisher: FakeActivityPublisher, secrets: tuple[str, ...]) -> httpx.AsyncClient:
    from services.common.registration_links import LinkKeys

    deps = bootstrap(FakeCatalog(), FakeUnsubscriber(), LinkKeys.parse(KEYS_SECRET), lambda: NOW)
    hooks = Webhooks(secrets, publisher, clock=lambda: NOW)
    app = web_app(deps, webhooks=hooks)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge")


@pytest.fixture
async def http(publisher: FakeActivityPublisher) -> AsyncIterator[httpx.AsyncClient]:
    async with _app(publisher, (SECRET, OLD_SECRET)) as client:
        yield client


async def _post(http: httpx.AsyncClient, document: Any, **sign_kw: Any) -> httpx.Response:
    body = json.dumps(document).encode()
    return await http.post("/webhooks/zoom", content=body, headers=sign(body, **sign_kw))


# --- Signatures -------------------------------------------------------------------------------


def test_the_signature_is_zooms_recipe_and_any_configured_token_verifies() -> None:
    body = b'{"event":"x","payload":{}}'
    headers = sign(body)
    timestamp, given = headers["x-zm-request-timestamp"], headers["x-zm-signature"]
    assert zoom.signature(SECRET, timestamp, body) == given
    assert zoom.verify((SECRET,), timestamp, given, body, NOW, dt.timedelta(minutes=5)) == SECRET
    # While a token is rotated out, a request signed with the old one still verifies.
    old = sign(body, OLD_SECRET)["x-zm-signature"]
    skew = dt.timedelta(minutes=5)
    assert zoom.verify((SECRET, OLD_SECRET), timestamp, old, body, NOW, skew) == OLD_SECRET
    with pytest.raises(Unsigned, match="does not match"):
        zoom.verify((SECRET,), timestamp, old, body, NOW, skew)
    with pytest.raises(Unsigned, match="does not match"):
        zoom.verify((SECRET,), timestamp, given, body + b" ", NOW, skew)
    with pytest.raises(Unsigned, match="missing"):
        zoom.verify((SECRET,), timestamp, "", body, NOW, skew)
    with pytest.raises(Unsigned, match="not a number"):
        zoom.verify((SECRET,), "", given, body, NOW, skew)


@pytest.mark.parametrize("minutes", [-6, 6, 60 * 24])
def test_a_timestamp_more_than_five_minutes_off_is_refused(minutes: int) -> None:
    body = b"{}"
    headers = sign(body, at=NOW + dt.timedelta(minutes=minutes))
    with pytest.raises(Unsigned, match="from our clock"):
        zoom.verify(
            (SECRET,),
            headers["x-zm-request-timestamp"],
            headers["x-zm-signature"],
            body,
            NOW,
            dt.timedelta(minutes=5),
        )


async def test_bad_signature_stale_or_unsigned_requests_get_401_and_publish_nothing(
    http: httpx.AsyncClient, publisher: FakeActivityPublisher
) -> None:
    body = json.dumps(joined()).encode()
    forged = await http.post(
        "/webhooks/zoom", content=body, headers=sign(body, secret="someone-elses")
    )
    stale = await http.post(
        "/webhooks/zoom", content=body, headers=sign(body, at=NOW - dt.timedelta(minutes=10))
    )
    unsigned = await http.post("/webhooks/zoom", content=body)
    tampered = await http.post(
        "/webhooks/zoom", content=body.replace(b"Ana@", b"Bob@"), headers=sign(body)
    )
    assert [r.status_code for r in (forged, stale, unsigned, tampered)] == [401] * 4
    assert publisher.published == []


async def test_without_a_secret_token_the_endpoint_is_not_there(
    publisher: FakeActivityPublisher,
) -> None:
    async with _app(publisher, ()) as http:
        answer = await _post(http, joined())
    assert answer.status_code == 404
    assert publisher.published == []


# --- URL validation ---------------------------------------------------------------------------


async def test_url_validation_is_answered_with_the_hmac_of_the_plain_token(
    http: httpx.AsyncClient, publisher: FakeActivityPublisher
) -> None:
    challenge = {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6U"}}
    answer = await _post(http, challenge)
    assert answer.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6U", hashlib.sha256).hexdigest()
    assert answer.json() == {"plainToken": "qgg8vlvZRS6U", "encryptedToken": expected}
    assert publisher.published == []
    unsigned = await http.post("/webhooks/zoom", content=json.dumps(challenge).encode())
    assert unsigned.status_code == 401


# --- Translation ------------------------------------------------------------------------------


async def test_a_join_is_published_as_webinar_activity(
    http: httpx.AsyncClient, publisher: FakeActivityPublisher
) -> None:
    answer = await _post(http, joined())
    assert answer.status_code == 200, answer.text
    (activity,) = publisher.published
    assert activity.kind is ActivityKind.JOINED
    assert activity.email == "ana@cloudtech.example"
    assert activity.webinar_id == "84512347702"
    assert activity.webinar_instance == "4444AAAiAAAAAiAiAiiAii=="
    assert activity.participant_id == "p-ana-1"
    assert activity.occur_time == dt.datetime(2027, 1, 14, 16, 5, tzinfo=dt.UTC)
    assert activity.source == "zoom"


def test_each_event_maps_to_its_kind_time_and_person() -> None:
    left = joined(at="x")
    left["event"] = "webinar.participant_left"
    participant = left["payload"]["object"]["participant"]
    del participant["join_time"], participant["participant_uuid"]
    participant["leave_time"] = "2027-01-14T17:15:00Z"
    registered: dict[str, Any] = {
        "event": "webinar.registration_created",
        "event_ts": 1_799_000_000_000,
        "payload": {
            "object": {"id": 84512347702, "registrant": {"id": "r1", "email": "Bo@x.example"}}
        },
    }
    ended: dict[str, Any] = {
        "event": "webinar.ended",
        "event_ts": 1_800_000_000_000,
        "payload": {
            "object": {"id": "84512347702", "uuid": "u==", "end_time": "2027-01-14T17:30:00Z"}
        },
    }
    out = [
        zoom.activity_from(d["event"], d["payload"], d["event_ts"])
        for d in (left, registered, ended)
    ]
    assert [(a.kind, a.email, a.participant_id) for a in out if a] == [
        (ActivityKind.LEFT, "ana@cloudtech.example", "16778240"),  # user_id pairs without a uuid
        (ActivityKind.REGISTERED, "bo@x.example", "r1"),
        (ActivityKind.ENDED, "", ""),
    ]
    assert out[0] and out[0].occur_time == dt.datetime(2027, 1, 14, 17, 15, tzinfo=dt.UTC)
    assert out[1] and out[1].occur_time == dt.datetime.fromtimestamp(1_799_000_000, dt.UTC)
    assert out[1].webinar_id == "84512347702"  # a number in the JSON
    assert out[2] and out[2].occur_time == dt.datetime(2027, 1, 14, 17, 30, tzinfo=dt.UTC)


def test_the_same_webhook_is_the_same_event_and_another_time_is_another() -> None:
    def activity(document: dict[str, Any]) -> uuid.UUID:
        found = zoom.activity_from(document["event"], document["payload"], document["event_ts"])
        assert found is not None
        return found.event_id

    first = activity(joined())
    assert activity(joined()) == first
    retried = joined()
    retried["event_ts"] += 5000  # Zoom's retry of the same join
    assert activity(retried) == first
    assert activity(joined(at="2027-01-14T16:40:00Z")) != first  # a re-join
    assert activity(joined(email="bo@cloudtech.example")) != first


async def test_other_events_are_acknowledged_and_ignored(
    http: httpx.AsyncClient, publisher: FakeActivityPublisher
) -> None:
    answer = await _post(http, {"event": "meeting.started", "payload": {"object": {"id": 1}}})
    assert answer.status_code == 200
    no_email = joined(email="")
    assert (await _post(http, no_email)).status_code == 200
    assert publisher.published == []


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("not json", "not JSON"),
        ([1, 2], "not a JSON object"),
        ({"payload": {}}, "event: is required"),
        ({"event": "webinar.participant_joined"}, "payload: is required"),
        ({"event": "webinar.participant_joined", "payload": {}}, "payload.object: is required"),
        ({"event": "webinar.ended", "payload": {"object": {"id": "84512347702"}}}, "event_ts"),
        (
            {
                "event": "webinar.participant_left",
                "payload": {"object": {"id": "1", "participant": {"email": "a@b.example"}}},
            },
            "payload.object.participant.leave_time: is required",
        ),
        (
            {
                "event": "webinar.ended",
                "payload": {"object": {"id": "1 OR 1=1", "end_time": "2027-01-14T17:30:00Z"}},
            },
            "is not a webinar id",
        ),
        (joined(email="not-an-address"), "is not an email address"),
        (joined(at="yesterday"), "is not an ISO 8601 time"),
        (
            {"event": "endpoint.url_validation", "payload": {}},
            "payload.plainToken: is required",
        ),
    ],
)
async def test_a_signed_body_missing_what_its_event_needs_gets_400_with_the_reason(
    http: httpx.AsyncClient, publisher: FakeActivityPublisher, document: Any, reason: str
) -> None:
    body = document.encode() if isinstance(document, str) else json.dumps(document).encode()
    answer = await http.post("/webhooks/zoom", content=body, headers=sign(body))
    assert answer.status_code == 400
    assert reason in answer.text
    assert publisher.published == []


def test_bad_webhook_is_raised_for_a_registration_without_registrant() -> None:
    with pytest.raises(BadWebhook, match="registrant: is required"):
        zoom.activity_from("webinar.registration_created", {"object": {"id": "1"}}, 1)


async def test_nats_away_answers_503_so_that_zoom_delivers_again(
    http: httpx.AsyncClient, publisher: FakeActivityPublisher
) -> None:
    publisher.away = True
    answer = await _post(http, joined())
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    publisher.away = False
    assert (await _post(http, joined())).status_code == 200
    assert len(publisher.published) == 1


def test_a_secret_token_needs_nats_and_rotated_tokens_are_listed_newest_first() -> None:
    from pydantic import ValidationError

    from services.edge.settings import EdgeSettings

    with pytest.raises(ValidationError, match="needs NATS_URL"):
        EdgeSettings(jwt_secret="k", zoom_webhook_secret_token="s")  # type: ignore[arg-type]
    settings = EdgeSettings(
        jwt_secret="k",  # type: ignore[arg-type]
        zoom_webhook_secret_token=" new , old ",  # type: ignore[arg-type]
        nats_url="nats://127.0.0.1:4222",
    )
    assert settings.zoom_secrets() == ("new", "old")
    assert EdgeSettings(jwt_secret="k").zoom_secrets() == ()  # type: ignore[arg-type]
