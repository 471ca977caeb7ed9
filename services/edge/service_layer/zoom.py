"""Zoom's webhooks: verified by their signature, answered when Zoom validates the endpoint, and
translated into webinar activity that the catalog pieces into attendance.

Zoom signs each request: `x-zm-signature` is "v0=" and the hex HMAC-SHA256, keyed with the
app's Secret Token, of "v0:{x-zm-request-timestamp}:{raw body}". A request whose signature
matches none of our tokens, or whose timestamp is more than the allowed skew from our clock (a
replay), is refused before its body is read. `endpoint.url_validation` (signed too) is answered
with the plain token and its HMAC-SHA256 under the token that verified the request.

Taken: webinar.registration_created, webinar.participant_joined, webinar.participant_left and
webinar.ended. Any other event is acknowledged and ignored. Each activity's id is a UUID5 over
what identifies the webhook (source, event, webinar instance or id, participant, email and the
event's own time), so the same webhook delivered again is the same event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from services.common.clock import Clock, utc_now
from services.edge.service_layer.ports import ActivityKind, ActivityPublisher, WebinarActivity

SOURCE = "zoom"
URL_VALIDATION = "endpoint.url_validation"
_KINDS = {
    "webinar.registration_created": ActivityKind.REGISTERED,
    "webinar.participant_joined": ActivityKind.JOINED,
    "webinar.participant_left": ActivityKind.LEFT,
    "webinar.ended": ActivityKind.ENDED,
}
# Fixed, so that a webhook's event id is the same in every process and every run.
_EVENT_IDS = uuid.UUID("8f3a2c4e-61b7-4d0b-b1f5-3f2e9a7d5c20")
_WEBINAR_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_log = logging.getLogger(__name__)


class Unsigned(Exception):
    """The request is not signed by Zoom with one of our tokens, or is too old (401)."""


class BadWebhook(Exception):
    """A signed request whose body is not what its event must carry (400)."""


@dataclass(frozen=True)
class Webhooks:
    """What the Zoom endpoint needs: its secret tokens (none: the endpoint is off), where the
    activity goes, and the clock that tells a replayed request."""

    secrets: tuple[str, ...]
    publisher: ActivityPublisher
    clock: Clock = utc_now
    max_skew: dt.timedelta = dt.timedelta(minutes=5)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The x-zm-signature Zoom sends with a body at a timestamp."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """Zoom's URL validation answer: hex HMAC-SHA256 of the plain token under the secret."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def _timestamp(value: str) -> dt.datetime:
    """x-zm-request-timestamp: seconds since the epoch (milliseconds taken too)."""
    if not value.isdigit() or len(value) > 16:
        raise Unsigned("x-zm-request-timestamp is missing or not a number")
    number = int(value)
    seconds = number / 1000 if number > 100_000_000_000 else number
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def verify(
    secrets: tuple[str, ...],
    timestamp: str,
    given: str,
    body: bytes,
    now: dt.datetime,
    max_skew: dt.timedelta,
) -> str:
    """The secret that signed the request, or Unsigned saying why it is refused."""
    sent = _timestamp(timestamp)
    if abs(now - sent) > max_skew:
        raise Unsigned(f"x-zm-request-timestamp is {abs(now - sent)} from our clock")
    if not given:
        raise Unsigned("x-zm-signature is missing")
    for secret in secrets:
        # compare_digest takes as long whichever character differs.
        if hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode()):
            return secret
    raise Unsigned("x-zm-signature does not match")


def _parse(body: bytes) -> tuple[str, dict[str, Any], int | None]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadWebhook(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BadWebhook("body is not a JSON object")
    event = document.get("event")
    payload = document.get("payload")
    if not isinstance(event, str) or not event:
        raise BadWebhook("event: is required")
    if not isinstance(payload, dict):
        raise BadWebhook("payload: is required")
    event_ts = document.get("event_ts")
    return event, payload, event_ts if isinstance(event_ts, int) else None


def url_validation(secret: str, payload: dict[str, Any]) -> dict[str, str]:
    plain = payload.get("plainToken")
    if not isinstance(plain, str) or not plain:
        raise BadWebhook("payload.plainToken: is required")
    return {"plainToken": plain, "encryptedToken": encrypted_token(secret, plain)}


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | str):
        return str(value).strip()
    return ""


def _time(value: Any, path: str) -> dt.datetime:
    if not isinstance(value, str) or not value:
        raise BadWebhook(f"{path}: is required")
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadWebhook(f"{path}: {value[:40]!r} is not an ISO 8601 time") from exc
    found = found if found.tzinfo is not None else found.replace(tzinfo=dt.UTC)
    if not 2000 <= found.year < 2100:
        raise BadWebhook(f"{path}: {value[:40]!r} is not a time of a webinar")
    return found.astimezone(dt.UTC)


def _event_time(event_ts: int | None) -> dt.datetime:
    if event_ts is None:
        raise BadWebhook("event_ts: is required")
    found = dt.datetime.fromtimestamp(event_ts / 1000, dt.UTC)
    if not 2000 <= found.year < 2100:
        raise BadWebhook(f"event_ts: {event_ts} is not a time of a webinar")
    return found


def _email(value: Any, path: str) -> str:
    email = _text(value).lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 254:
        raise BadWebhook(f"{path}: {email[:80]!r} is not an email address")
    if any(c.isspace() or ord(c) < 32 for c in email):
        raise BadWebhook(f"{path}: is not an email address")
    return email


def activity_from(
    event: str, payload: dict[str, Any], event_ts: int | None
) -> WebinarActivity | None:
    """The webinar activity a Zoom event tells, or None for an event we do not take (or a
    participant with no email: nobody to attribute the presence to). BadWebhook for a body
    its event cannot have."""
    kind = _KINDS.get(event)
    if kind is None:
        return None
    obj = payload.get("object")
    if not isinstance(obj, dict):
        raise BadWebhook("payload.object: is required")
    webinar_id = _text(obj.get("id"))
    if not _WEBINAR_ID.fullmatch(webinar_id):
        raise BadWebhook(f"payload.object.id: {webinar_id[:80]!r} is not a webinar id")
    instance = _text(obj.get("uuid"))[:200]
    email = participant_id = ""
    if kind is ActivityKind.ENDED:
        end = obj.get("end_time")
        occur_time = _time(end, "payload.object.end_time") if end else _event_time(event_ts)
    elif kind is ActivityKind.REGISTERED:
        registrant = obj.get("registrant")
        if not isinstance(registrant, dict):
            raise BadWebhook("payload.object.registrant: is required")
        email = _email(registrant.get("email"), "payload.object.registrant.email")
        participant_id = _text(registrant.get("id"))[:200]
        created = registrant.get("create_time")
        occur_time = (
            _time(created, "payload.object.registrant.create_time")
            if created
            else _event_time(event_ts)
        )
    else:
        participant = obj.get("participant")
        if not isinstance(participant, dict):
            raise BadWebhook("payload.object.participant: is required")
        field = "join_time" if kind is ActivityKind.JOINED else "leave_time"
        occur_time = _time(participant.get(field), f"payload.object.participant.{field}")
        if not _text(participant.get("email")):
            _log.info(
                "zoom participant without an email ignored: nobody to attribute it to",
                extra={"event": event, "webinar_id": webinar_id},
            )
            return None
        email = _email(participant.get("email"), "payload.object.participant.email")
        participant_id = (
            _text(participant.get("participant_uuid"))
            or _text(participant.get("user_id"))
            or _text(participant.get("id"))
        )[:200]
    key = "|".join(
        (SOURCE, event, instance or webinar_id, participant_id, email, occur_time.isoformat())
    )
    return WebinarActivity(
        event_id=uuid.uuid5(_EVENT_IDS, key),
        occur_time=occur_time,
        source=SOURCE,
        webinar_id=webinar_id,
        kind=kind,
        email=email,
        participant_id=participant_id,
        webinar_instance=instance,
    )


@dataclass(frozen=True)
class Answer:
    """What the endpoint answers Zoom with a 200: a JSON body, or nothing to say."""

    body: dict[str, str] | None = None


async def receive(hooks: Webhooks, timestamp: str, given: str, body: bytes) -> Answer:
    """Verify one webhook and publish the activity it tells, acknowledged by JetStream before
    the answer. Unsigned (401), BadWebhook (400), ServiceUnavailable (503: Zoom retries)."""
    secret = verify(hooks.secrets, timestamp, given, body, hooks.clock(), hooks.max_skew)
    event, payload, event_ts = _parse(body)
    if event == URL_VALIDATION:
        return Answer(url_validation(secret, payload))
    activity = activity_from(event, payload, event_ts)
    if activity is None:
        if event not in _KINDS:
            _log.info("zoom event ignored: not one attendance is made of", extra={"event": event})
        return Answer()
    await hooks.publisher.publish(activity)
    _log.info(
        "zoom webinar activity published",
        extra={"event": event, "event_id": str(activity.event_id), "kind": activity.kind},
    )
    return Answer()
