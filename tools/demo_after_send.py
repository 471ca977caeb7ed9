"""What `make demo` plays after "Send All": two invitees open their links and register over
HTTP, the session's Zoom webinar sends its webhooks (one person attends 70 of its 90 minutes,
the other never joins), and the CSM reads the tracking view.

Everything goes through the same doors as in production: the invitees' signed links on the
HTTP edge, Zoom's signed webhooks on the edge, the CSM's RPCs. The one liberty: the session is
weeks away, so the catalog editor first moves it to start in a few minutes (close enough for
attendance to be believed, see services/common/attendance.py CLOCK_SKEW), and the CSM sends the
invitees the notice of the new time, as after any reschedule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import time
import uuid
from dataclasses import dataclass

import httpx
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from trainvite.dispatcher.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from trainvite.personalizer.v1 import personalizer_pb2 as pb
from trainvite.personalizer.v1 import personalizer_pb2_grpc

EDITOR_EMAIL = "casey@trainvite.dev"
# Within the 15 minutes of clock skew attendance allows, and long enough for a second run of
# the demo to find the session still upcoming (and nobody left to invite).
START_IN = dt.timedelta(minutes=10)
WEBINAR_MINUTES = 90
# (joined, left) minutes after the start: 40 + 30 = 70 of 90, a re-join summed.
ATTENDED_PRESENCES = ((0, 40), (50, 80))
_LINK = re.compile(r"https?://\S+?/r/[A-Za-z0-9._~-]+")
_HEADING = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_STATUS = re.compile(r"<p[^>]*id=\"status\"[^>]*>(.*?)</p>", re.S)
Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Invitee:
    name: str
    email: str
    link: str


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def _text(self, pattern: re.Pattern[str]) -> str:
        found = pattern.search(self.body.decode("utf-8", "replace"))
        text = re.sub(r"<[^>]+>", "", found.group(1)) if found else ""
        return html.unescape(" ".join(text.split()))

    @property
    def heading(self) -> str:
        """The page's title: the session."""
        return self._text(_HEADING)

    @property
    def status_text(self) -> str:
        """Where the person stands, as the page tells them."""
        return self._text(_STATUS)


async def http(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> HttpAnswer:
    """GET `url`, or POST `data` to it, as a browser or Zoom would."""
    async with httpx.AsyncClient(timeout=10) as client:
        if data is None:
            reply = await client.get(url, headers=headers)
        else:
            reply = await client.post(url, content=data, headers=headers)
    return HttpAnswer(reply.status_code, reply.content)


def invitees(batch: pb.InvitationBatch, count: int) -> list[Invitee]:
    """The first `count` recipients and the registration link their message carries."""
    found = []
    for draft in batch.drafts:
        link = _LINK.search(draft.content.text_body)
        if link:
            found.append(Invitee(draft.recipient.display_name, draft.recipient.email, link[0]))
    return found[:count]


def _timestamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def start_soon(
    catalog: catalog_pb2_grpc.CatalogServiceAsyncStub, name: str, editor: Metadata
) -> catalog_pb2.TrainingSession:
    """The editor moves the session to start a few minutes from now."""
    session = await catalog.GetTrainingSession(
        catalog_pb2.GetTrainingSessionRequest(name=name), metadata=editor, timeout=10
    )
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + START_IN
    moved = catalog_pb2.TrainingSession(
        name=session.name, etag=session.etag, start_time=_timestamp(start)
    )
    return await catalog.UpdateTrainingSession(
        catalog_pb2.UpdateTrainingSessionRequest(
            training_session=moved, update_mask=FieldMask(paths=["start_time"])
        ),
        metadata=editor,
        timeout=10,
    )


def _zoom_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def webinar_webhooks(
    session: catalog_pb2.TrainingSession, attendee: Invitee, absentee: Invitee
) -> list[dict[str, object]]:
    """Zoom's webhooks for the session's webinar, as Zoom sends them: both register, one joins
    twice, nobody else comes, the webinar ends after 90 minutes."""
    start = session.start_time.ToDatetime(tzinfo=dt.UTC)
    webinar = {
        "id": session.webinar_id,
        "uuid": f"demo{uuid.uuid5(uuid.NAMESPACE_URL, session.name).hex[:18]}==",
        "topic": session.title,
        "start_time": _zoom_time(start),
        "duration": WEBINAR_MINUTES,
        "timezone": session.time_zone,
    }
    ms = int(time.time() * 1000)
    hooks: list[dict[str, object]] = []
    for person in (attendee, absentee):
        registrant = {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, person.email).hex[:22],
            "email": person.email,
        }
        hooks.append(
            {
                "event": "webinar.registration_created",
                "event_ts": ms,
                "payload": {"object": {**webinar, "registrant": registrant}},
            }
        )
    participant = {
        "user_id": "16778240",
        "user_name": attendee.name,
        "id": uuid.uuid5(uuid.NAMESPACE_URL, attendee.email).hex[:22],
        "email": attendee.email,
    }
    for n, (joined, left) in enumerate(ATTENDED_PRESENCES, 1):
        presence = {**participant, "participant_uuid": f"{participant['id']}-{n}"}
        join_time = _zoom_time(start + dt.timedelta(minutes=joined))
        leave_time = _zoom_time(start + dt.timedelta(minutes=left))
        hooks.append(
            {
                "event": "webinar.participant_joined",
                "event_ts": ms,
                "payload": {
                    "object": {**webinar, "participant": {**presence, "join_time": join_time}}
                },
            }
        )
        hooks.append(
            {
                "event": "webinar.participant_left",
                "event_ts": ms,
                "payload": {
                    "object": {**webinar, "participant": {**presence, "leave_time": leave_time}}
                },
            }
        )
    end = {**webinar, "end_time": _zoom_time(start + dt.timedelta(minutes=WEBINAR_MINUTES))}
    hooks.append({"event": "webinar.ended", "event_ts": ms, "payload": {"object": end}})
    return hooks


def zoom_signed(body: bytes, secret: str) -> dict[str, str]:
    """The headers Zoom sends: `v0=` + HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    timestamp = str(int(time.time()))
    message = f"v0:{timestamp}:".encode() + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={signature}",
    }


async def play_webinar(edge_url: str, secret: str, hooks: list[dict[str, object]]) -> int:
    """POST each webhook to the edge; the number it accepted."""
    accepted = 0
    for hook in hooks:
        body = json.dumps(hook).encode()
        answer = await http(f"{edge_url}/webhooks/zoom", body, zoom_signed(body, secret))
        if answer.status == 200:
            accepted += 1
        else:
            print(f"  {hook['event']}: HTTP {answer.status} {answer.body[:200]!r}")
    return accepted


async def notices_to_review(
    personalizer: personalizer_pb2_grpc.PersonalizerServiceAsyncStub,
    customer: str,
    csm: Metadata,
    seconds: float,
) -> list[pb.InvitationBatch]:
    """The reschedule notices waiting for the CSM, once the personalizer has drafted them."""
    deadline = time.monotonic() + seconds
    while True:
        pending = await personalizer.ListInvitationBatches(
            pb.ListInvitationBatchesRequest(parent=customer, pending_review_only=True),
            metadata=csm,
            timeout=10,
        )
        notices = [
            b
            for b in pending.invitation_batches
            if b.purpose == pb.BATCH_PURPOSE_RESCHEDULED and b.drafts
        ]
        if notices or time.monotonic() > deadline:
            return notices
        await asyncio.sleep(0.3)


_STAGE_WORDS = {
    dispatcher_pb2.TRACKING_STAGE_NOT_SENT: "not sent",
    dispatcher_pb2.TRACKING_STAGE_SENT: "sent, no answer yet",
    dispatcher_pb2.TRACKING_STAGE_WAITLISTED: "waitlisted",
    dispatcher_pb2.TRACKING_STAGE_REGISTERED: "registered",
    dispatcher_pb2.TRACKING_STAGE_CANCELLED: "cancelled",
    dispatcher_pb2.TRACKING_STAGE_ATTENDED: "attended",
    dispatcher_pb2.TRACKING_STAGE_NO_SHOW: "no-show",
}


def tracking_lines(batch: pb.InvitationBatch, tracking: dispatcher_pb2.BatchTracking) -> list[str]:
    names = {d.name: d.recipient.display_name for d in batch.drafts}
    lines = []
    for row in tracking.invitations:
        stage = _STAGE_WORDS.get(row.stage, "unknown")
        if row.stage == dispatcher_pb2.TRACKING_STAGE_ATTENDED and row.minutes_attended:
            stage += f" ({row.minutes_attended} min)"
        if row.stage == dispatcher_pb2.TRACKING_STAGE_WAITLISTED and row.waitlist_position:
            stage += f" (place {row.waitlist_position})"
        if row.unsubscribed:
            stage += ", unsubscribed"
        lines.append(f"- {names.get(row.invitation, row.recipient_email)}: {stage}")
    return lines


async def wait_for_tracking(
    dispatcher: dispatcher_pb2_grpc.DispatcherServiceAsyncStub,
    name: str,
    csm: Metadata,
    attended: int,
    no_show: int,
    seconds: float,
) -> dispatcher_pb2.BatchTracking:
    """The batch's tracking once it shows the attendance played, or as it stands at the end."""
    deadline = time.monotonic() + seconds
    while True:
        tracking = await dispatcher.GetBatchTracking(
            dispatcher_pb2.GetBatchTrackingRequest(name=name), metadata=csm, timeout=10
        )
        done = tracking.counts.attended >= attended and tracking.counts.no_show >= no_show
        if done or time.monotonic() > deadline:
            return tracking
        await asyncio.sleep(0.3)
