"""`make demo`: the PRD's chat flow, played against the running services over gRPC.

CSM: Invite CloudTech team to Advanced Analytics training
... training details, stakeholders with reasons, every draft in full ...
CSM: Send All
System: 3 personalized training invitations sent to CloudTech team!
... two invitees register from their links, the webinar takes place, the CSM tracks it ...
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import textwrap
import time
from zoneinfo import ZoneInfo

import grpc
from trainvite.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from trainvite.personalizer.v1 import personalizer_pb2 as pb
from trainvite.personalizer.v1 import personalizer_pb2_grpc

from services.common.auth import CallerKind, issue_token
from services.platform.seed import CSM_EMAIL
from tools import demo_after_send, devdata
from tools.token import signing_key

DEFAULT_REQUEST = "Invite CloudTech team to Advanced Analytics training"
_CHAT = [
    re.compile(r"invite (?P<customer>.+?)(?: team)? to (?P<topic>.+?)(?: training)?$", re.I),
    re.compile(r"send training invite for (?P<topic>.+?) to (?P<customer>.+?)(?: team)?$", re.I),
]
_ANGLE_WORDS = {
    common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP: "close the gap",
    common_pb2.PERSONALIZATION_ANGLE_GO_DEEPER: "power user, good fit for advanced",
    common_pb2.PERSONALIZATION_ANGLE_LEAD_ADOPTION: "lead the team's adoption",
    common_pb2.PERSONALIZATION_ANGLE_NEW_FEATURE: "new feature",
    common_pb2.PERSONALIZATION_ANGLE_ONBOARDING: "onboarding",
}
_FORMATS = {
    catalog_pb2.SESSION_FORMAT_LIVE_WEBINAR: "Live webinar with Q&A",
    catalog_pb2.SESSION_FORMAT_IN_PERSON: "In person",
    catalog_pb2.SESSION_FORMAT_ON_DEMAND: "On demand",
}


def parse_request(text: str) -> tuple[str, str]:
    """(customer name, topic) from a CSM's sentence."""
    for pattern in _CHAT:
        match = pattern.match(text.strip())
        if match:
            return match["customer"].strip(), match["topic"].strip()
    raise SystemExit(f"Could not read {text!r}: try 'Invite <customer> team to <topic> training'")


def say(who: str, text: str = "") -> None:
    print(f"{who}: {text}" if text else who, flush=True)


def session_details(session: catalog_pb2.TrainingSession) -> list[str]:
    start = session.start_time.ToDatetime(tzinfo=ZoneInfo("UTC")).astimezone(
        ZoneInfo(session.time_zone)
    )
    when = f"{start:%B} {start.day}, {start.year}, {start:%I:%M %p}".replace(" 0", " ")
    return [
        f"- Topic: {session.title}",
        f"- Date: {when} {start.tzname()}",
        f"- Duration: {session.duration.ToTimedelta().seconds // 60} minutes",
        f"- Format: {_FORMATS.get(session.format, 'Live webinar')}",
    ]


def summary(draft: pb.InvitationDraft) -> str:
    need = next((r.text for r in draft.reasons if r.factor == "need"), "")
    first = need.split(";")[0]
    return f"{_ANGLE_WORDS.get(draft.angle, '')}: {first}"


_STATE_WORDS = {
    common_pb2.DELIVERY_STATE_PENDING: "waiting to be sent",
    common_pb2.DELIVERY_STATE_SENT: "sent",
    common_pb2.DELIVERY_STATE_FAILED: "not delivered",
    common_pb2.DELIVERY_STATE_SUPPRESSED: "not sent, the address is suppressed",
    common_pb2.DELIVERY_STATE_CANCELLED: "cancelled before sending",
}


def delivery_report(
    batch: pb.InvitationBatch, status: dispatcher_pb2.BatchDeliveryStatus
) -> list[str]:
    """What the CSM sees after Send All: who was sent which invitation and where each stands,
    as GetBatchDeliveryStatus tells it (the provider's message ids mean nothing to a CSM)."""
    drafts = {d.name: d for d in batch.drafts}
    lines = ["", "Delivery status:"]
    for d in status.deliveries:
        draft = drafts.get(d.invitation)
        who = (
            f"{draft.recipient.display_name} <{d.recipient_email}>" if draft else d.recipient_email
        )
        state = _STATE_WORDS.get(
            d.state, common_pb2.DeliveryState.Name(d.state).removeprefix("DELIVERY_STATE_").lower()
        )
        if d.state == common_pb2.DELIVERY_STATE_SENT and d.HasField("sent_time"):
            sent = d.sent_time.ToDatetime(tzinfo=ZoneInfo("UTC")).astimezone()
            state += f" at {sent:%H:%M %Z}"
        if d.detail and d.state != common_pb2.DELIVERY_STATE_SENT:
            state += f" ({d.detail})"
        subject = f' "{draft.content.subject}"' if draft else ""
        lines.append(f"- {who}:{subject}, {state}")
    totals = [
        (status.sent_count, "sent"),
        (status.pending_count, "waiting"),
        (status.failed_count, "not delivered"),
        (status.suppressed_count, "suppressed"),
        (status.cancelled_count, "cancelled"),
    ]
    lines.append("  " + ", ".join(f"{count} {word}" for count, word in totals if count))
    return lines


async def play(
    request: str, csm: str, endpoints: dict[str, str], wait_seconds: float, zoom_secret: str
) -> int:
    customer_name, topic = parse_request(request)
    customer_id = re.sub(r"[^a-z0-9]+", "-", customer_name.lower()).strip("-")
    token = issue_token(signing_key(), csm, CallerKind.CSM)
    metadata = (("authorization", f"Bearer {token}"),)

    async with (
        grpc.aio.insecure_channel(endpoints["personalizer"]) as p_channel,
        grpc.aio.insecure_channel(endpoints["dispatcher"]) as d_channel,
    ):
        personalizer = personalizer_pb2_grpc.PersonalizerServiceStub(p_channel)
        dispatcher = dispatcher_pb2_grpc.DispatcherServiceStub(d_channel)

        say("CSM", request)
        batch = await personalizer.DraftInvitations(
            pb.DraftInvitationsRequest(parent=f"customers/{customer_id}", topic=topic),
            metadata=metadata,
            timeout=30,
        )
        say(
            "System",
            f"I'll create personalized training invitations for {batch.customer_display_name}.",
        )
        print("\nTraining Details:")
        print("\n".join(session_details(batch.training_session)))

        print(f"\n{batch.customer_display_name} stakeholders identified:")
        if not batch.drafts:
            print("(none left to invite)")
        for i, draft in enumerate(batch.drafts, 1):
            r = draft.recipient
            print(f"{i}. {r.display_name} ({r.title}) - {summary(draft)}")
            print(f"   score {draft.score:.2f}: " + " | ".join(x.text for x in draft.reasons))
        if batch.excluded:
            print("\nLeft out:")
            for e in batch.excluded:
                s = e.stakeholder
                print(f"- {s.display_name} ({s.title}): {e.detail}")

        if not batch.drafts:
            say(
                "System",
                f"Nobody at {batch.customer_display_name} is left to invite to this session.",
            )
            return 0

        print("\nGenerating personalized invitations...")
        for draft in batch.drafts:
            print(
                f"\n📧 **Invitation to {draft.recipient.display_name}** <{draft.recipient.email}>"
            )
            print("---")
            print(f"Subject: {draft.content.subject}\n")
            print(draft.content.text_body.rstrip())
            print("---")
        n = len(batch.drafts)
        print(f"\n[Preview All {n}] [Edit Individual] [Send All]\n")

        say("CSM", "Send All")
        approved = await personalizer.ApproveInvitationBatch(
            pb.ApproveInvitationBatchRequest(name=batch.name, etag=batch.etag),
            metadata=metadata,
            timeout=30,
        )
        status_name = f"{approved.name}/delivery-status"
        deadline = time.monotonic() + wait_seconds
        status = dispatcher_pb2.BatchDeliveryStatus()
        while time.monotonic() < deadline:
            status = await dispatcher.GetBatchDeliveryStatus(
                dispatcher_pb2.GetBatchDeliveryStatusRequest(name=status_name),
                metadata=metadata,
                timeout=10,
            )
            if len(status.deliveries) == n and status.pending_count == 0:
                break
            await asyncio.sleep(0.3)
        print("\n".join(delivery_report(batch, status)))
        if status.sent_count == n:
            team = batch.customer_display_name
            say("System", f"{n} personalized training invitations sent to {team} team!")
            return await after_send(
                batch, approved.name, metadata, endpoints, wait_seconds, zoom_secret
            )
        say(
            "System",
            textwrap.shorten(
                f"{status.sent_count} of {n} sent, {status.pending_count} pending, "
                f"{status.failed_count} failed, {status.suppressed_count} suppressed.",
                200,
            ),
        )
        return 1


async def after_send(
    batch: pb.InvitationBatch,
    batch_name: str,
    csm: demo_after_send.Metadata,
    endpoints: dict[str, str],
    wait_seconds: float,
    zoom_secret: str,
) -> int:
    """Two invitees register from their links, the webinar takes place, the CSM tracks it."""
    people = demo_after_send.invitees(batch, 2)
    if len(people) < 2:
        say("System", "(fewer than two invitations carry a registration link: nothing to track)")
        return 0
    edge = endpoints["edge"]
    print("\n--- Later, in the invitees' mailboxes ---")
    for person in people:
        shown = await demo_after_send.http(person.link)
        print(f"{person.name} opens the link: HTTP {shown.status}, {shown.heading!r}")
        answer = await demo_after_send.http(f"{person.link}/register", data=b"")
        print(f"{person.name} presses Register: HTTP {answer.status}, {answer.status_text!r}")

    editor_token = issue_token(
        signing_key(), demo_after_send.EDITOR_EMAIL, CallerKind.CATALOG_EDITOR
    )
    editor = (("authorization", f"Bearer {editor_token}"),)
    async with (
        grpc.aio.insecure_channel(endpoints["catalog"]) as c_channel,
        grpc.aio.insecure_channel(endpoints["personalizer"]) as p_channel,
        grpc.aio.insecure_channel(endpoints["dispatcher"]) as d_channel,
    ):
        catalog = catalog_pb2_grpc.CatalogServiceStub(c_channel)
        personalizer = personalizer_pb2_grpc.PersonalizerServiceStub(p_channel)
        dispatcher = dispatcher_pb2_grpc.DispatcherServiceStub(d_channel)
        print("\n--- Fast-forward: the editor moves the session to start in 10 minutes ---")
        session = await demo_after_send.start_soon(catalog, batch.training_session.name, editor)
        for notice in await demo_after_send.notices_to_review(
            personalizer, batch.name.split("/invitation-batches/")[0], csm, wait_seconds
        ):
            say("System", f"{len(notice.drafts)} invitees should hear of the new time:")
            print(f"Subject: {notice.drafts[0].content.subject}")
            say("CSM", "Send All")
            await personalizer.ApproveInvitationBatch(
                pb.ApproveInvitationBatchRequest(name=notice.name, etag=notice.etag),
                metadata=csm,
                timeout=30,
            )
        attendee, absentee = people
        hooks = demo_after_send.webinar_webhooks(session, attendee, absentee)
        accepted = await demo_after_send.play_webinar(edge, zoom_secret, hooks)
        print(
            f"Zoom webinar {session.webinar_id}: {accepted} of {len(hooks)} webhooks accepted"
            f" ({attendee.name} attends 70 of 90 minutes, {absentee.name} never joins)"
        )

        say("\nCSM", "How did it go?")
        tracking = await demo_after_send.wait_for_tracking(
            dispatcher, f"{batch_name}/tracking", csm, 1, 1, wait_seconds
        )
        print("\n".join(demo_after_send.tracking_lines(batch, tracking)))
        say("System", tracking.summary)
        by_session = await dispatcher.GetSessionTracking(
            dispatcher_pb2.GetSessionTrackingRequest(name=f"{session.name}/tracking"),
            metadata=csm,
            timeout=10,
        )
        say("System", f"{session.title}, all your customers: {by_session.summary}")
        return 0 if tracking.counts.attended and tracking.counts.no_show else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("request", nargs="?", default=DEFAULT_REQUEST, help="what the CSM types")
    parser.add_argument("--csm", default=CSM_EMAIL, help="the CSM playing the flow")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for sending")
    args = parser.parse_args()
    try:
        code = asyncio.run(
            play(
                args.request,
                args.csm,
                devdata.read_endpoints(),
                args.timeout,
                devdata.zoom_webhook_secret(),
            )
        )
    except grpc.aio.AioRpcError as exc:
        print(f"System: {exc.code().name}: {exc.details()}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
