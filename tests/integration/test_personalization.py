"""Gap analysis, selection rules, review actions and platform triggers, on the seeded data."""

from __future__ import annotations

import uuid

import grpc
import pytest
import vobject
from nats.js import JetStreamContext
from trainvite.catalog.v1 import catalog_pb2 as cpb
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.messaging.topology import Topology
from tests.helpers import Clients
from tests.integration.catalog_data import (
    analytics_session,
    in_days,
    move_into_past,
    new_course,
    new_session,
)
from tests.integration.test_api_errors import bad_fields
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: its tests invite the same people, whom the frequency cap would
    then leave out."""
    return fresh_database_url


async def _draft(
    c: Clients, session: str, parent: str = "customers/cloudtech"
) -> pb.InvitationBatch:
    return await c.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent=parent, training_session=session), metadata=c.csm
    )


async def _pending(c: Clients, parent: str, created_by: str) -> pb.InvitationBatch:
    async def found() -> list[pb.InvitationBatch]:
        page = await c.personalizer.ListInvitationBatches(
            pb.ListInvitationBatchesRequest(parent=parent, pending_review_only=True),
            metadata=c.csm,
        )
        return [b for b in page.invitation_batches if b.created_by == created_by]

    return (await wait_for(found, f"a batch by {created_by} pending review", timeout=10))[0]


async def test_gaps_show_quartiles_the_widest_gaps_and_sessions_that_close_them(
    services: Clients,
) -> None:
    gaps = await services.personalizer.GetTrainingGaps(
        pb.GetTrainingGapsRequest(name="customers/cloudtech/training-gaps"), metadata=services.csm
    )
    assert gaps.HasField("benchmarks_time") and gaps.window_days == 30
    sarah = next(s for s in gaps.stakeholders if s.stakeholder.display_name == "Sarah Chen")
    dashboards = next(a for a in sarah.adoption if a.feature == "dashboards")
    assert (
        dashboards.role_peers == 4
        and dashboards.role_p25_active_days
        <= dashboards.role_median_active_days
        <= dashboards.role_p75_active_days
    )
    assert "quartiles" in dashboards.explanation
    widest = gaps.feature_gaps[0]
    counts = [len(g.stakeholders) for g in gaps.feature_gaps]
    assert counts == sorted(counts, reverse=True)
    assert widest.training_sessions
    assert all(widest.feature in s.features for s in widest.training_sessions)
    report = next(g for g in gaps.feature_gaps if g.feature == "report_scheduling")
    assert "ct-sarah" in report.stakeholders
    starts = [s.start_time.ToDatetime() for s in report.training_sessions]
    assert report.training_sessions and starts == sorted(starts)
    assert all("report_scheduling" in s.features for s in report.training_sessions)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.GetTrainingGaps(
            pb.GetTrainingGapsRequest(name="customers/cloudtech/training-gaps", window_days=45),
            metadata=services.csm,
        )
    assert bad_fields(err.value) == {"window_days"}


async def test_attendance_counts_for_gaps_and_leaves_the_trained_out(
    services: Clients, js: JetStreamContext, namespace: str, database_url: str
) -> None:
    """Dana Scott (Northwind) registers for, then attends, a session of a new course."""
    session = await analytics_session(services)
    await move_into_past(database_url, session, days=2)  # attended: it has taken place
    for kind in (events_pb2.ATTENDANCE_KIND_REGISTERED, events_pb2.ATTENDANCE_KIND_ATTENDED):
        event = events_pb2.AttendanceRecorded(
            event_id=str(uuid.uuid4()),
            training_session=session.name,
            email="Dana.Scott@northwind.example",
            kind=kind,
            source="zoom",
        )
        await js.publish(
            Topology(namespace).attendance_recorded,
            event.SerializeToString(),
            headers={"Nats-Msg-Id": event.event_id},
        )

    async def trained() -> pb.FeatureAdoption | NotYet:
        gaps = await services.personalizer.GetTrainingGaps(
            pb.GetTrainingGapsRequest(name="customers/northwind/training-gaps"),
            metadata=services.csm,
        )
        dana = next(s for s in gaps.stakeholders if s.stakeholder.id == "nw-ops")
        sharing = next(a for a in dana.adoption if a.feature == "sharing")
        return sharing if sharing.trained else NotYet(sharing)

    sharing = await wait_for(trained, "Dana trained in sharing by her attendance", timeout=10)
    assert not sharing.gap and "attended Analytics Clinic" in sharing.explanation

    next_run = await new_session(services, cpb.Course(name=session.course), in_days(30))
    again = await _draft(services, next_run.name, "customers/northwind")
    reasons = {e.stakeholder.id: e for e in again.excluded}
    assert reasons["nw-ops"].reason == pb.EXCLUSION_REASON_ALREADY_TRAINED
    assert "Attended Analytics Clinic" in reasons["nw-ops"].detail


@pytest.mark.personalizer_settings(frequency_cap_days=14)
async def test_no_second_invitation_within_the_frequency_cap(services: Clients) -> None:
    first = await analytics_session(services, days_ahead=30)
    batch = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/helios", training_session=first.name),
        metadata=services.other_csm,
    )
    approved_people = {d.recipient.id for d in batch.drafts}
    assert approved_people
    await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.other_csm
    )
    second = await analytics_session(services, days_ahead=50)
    later = await services.personalizer.DraftInvitations(
        pb.DraftInvitationsRequest(parent="customers/helios", training_session=second.name),
        metadata=services.other_csm,
    )
    recent = {e.stakeholder.id: e for e in later.excluded}
    for person in approved_people:
        assert recent[person].reason == pb.EXCLUSION_REASON_INVITED_RECENTLY
        assert first.title in recent[person].detail


async def test_add_back_drop_and_approve_a_subset(services: Clients) -> None:
    session = await analytics_session(services)
    batch = await _draft(services, session.name)
    left_out = {e.stakeholder.id: e.reason for e in batch.excluded}
    assert left_out["ct-tom"] == pb.EXCLUSION_REASON_OPTED_OUT

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.personalizer.AddInvitationRecipient(
            pb.AddInvitationRecipientRequest(batch=batch.name, stakeholder="ct-tom"),
            metadata=services.csm,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    priya = await services.personalizer.AddInvitationRecipient(
        pb.AddInvitationRecipientRequest(batch=batch.name, stakeholder="ct-priya", etag=batch.etag),
        metadata=services.csm,
    )
    assert priya.recipient.display_name == "Priya Nair"
    assert "added_by_csm" in {r.factor for r in priya.reasons}
    assert priya.content.text_body.startswith("Hi Priya,")

    by_name = {d.recipient.display_name: d for d in batch.drafts}
    dropped = await services.personalizer.DropInvitationDraft(
        pb.DropInvitationDraftRequest(
            name=by_name["Lisa Park"].name, etag=by_name["Lisa Park"].etag
        ),
        metadata=services.csm,
    )
    assert dropped.state == pb.DRAFT_STATE_DROPPED

    partial = await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name, drafts=[by_name["Sarah Chen"].name]),
        metadata=services.csm,
    )
    states = {d.recipient.display_name: d.state for d in partial.drafts}
    assert states["Sarah Chen"] == pb.DRAFT_STATE_APPROVED
    assert states["Mike Johnson"] == states["Priya Nair"] == pb.DRAFT_STATE_PENDING_REVIEW
    assert partial.state == pb.BATCH_STATE_PENDING_REVIEW

    rest = await services.personalizer.ApproveInvitationBatch(
        pb.ApproveInvitationBatchRequest(name=batch.name), metadata=services.csm
    )
    assert rest.state == pb.BATCH_STATE_APPROVED
    final = {d.recipient.display_name: d.state for d in rest.drafts}
    assert final["Lisa Park"] == pb.DRAFT_STATE_DROPPED
    assert final["Mike Johnson"] == final["Priya Nair"] == pb.DRAFT_STATE_APPROVED


async def test_a_csms_own_template_renders_in_the_sandbox(services: Clients) -> None:
    session = await analytics_session(services)
    batch = await _draft(services, session.name, "customers/northwind")
    draft = batch.drafts[0]
    rendered = await services.personalizer.RenderInvitationDraft(
        pb.RenderInvitationDraftRequest(
            name=draft.name,
            etag=draft.etag,
            subject_template="{{ recipient.first_name }}, a seat for you on {{ when.short_date }}",
            body_template=(
                "Hi {{ recipient.first_name }} <script>x</script>\n\n"
                "{% for p in talking_points %}- {{ p }}\n{% endfor %}\n{{ registration_url }}"
            ),
        ),
        metadata=services.csm,
    )
    first = draft.recipient.display_name.split()[0]
    assert rendered.content.subject.startswith(f"{first}, a seat for you on ")
    assert draft.registration_url in rendered.content.text_body
    assert (
        "&lt;script&gt;" in rendered.content.html_body
        and "<script>" not in rendered.content.html_body
    )
    assert rendered.content.calendar_ics == draft.content.calendar_ics

    for template in ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ nobody }}", "{% for %}"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await services.personalizer.RenderInvitationDraft(
                pb.RenderInvitationDraftRequest(
                    name=draft.name, subject_template="Hi", body_template=template
                ),
                metadata=services.csm,
            )
        assert bad_fields(err.value) == {"body_template"}, template

    back = await services.personalizer.RenderInvitationDraft(
        pb.RenderInvitationDraftRequest(name=draft.name), metadata=services.csm
    )
    assert back.content.subject == draft.content.subject
    assert back.updated_by == "alex.rivera@trainvite.dev"


async def test_the_invitation_carries_alternatives_and_a_calendar_a_second_parser_reads(
    services: Clients,
) -> None:
    session = await analytics_session(services)
    batch = await _draft(services, session.name)
    sarah = next(d for d in batch.drafts if d.recipient.display_name == "Sarah Chen")
    assert "Can't make this date? These work too:" in sarah.content.text_body
    offered = await services.catalog.ListAlternativeSessions(
        cpb.ListAlternativeSessionsRequest(name=session.name, page_size=3), metadata=services.csm
    )
    assert offered.alternatives
    for alternative in offered.alternatives:
        assert f"* {alternative.training_session.title}: " in sarah.content.text_body
    calendar = vobject.readOne(sarah.content.calendar_ics)
    assert calendar.method.value == "REQUEST"
    event = calendar.vevent
    assert event.dtstart.value == session.start_time.ToDatetime(tzinfo=event.dtstart.value.tzinfo)
    assert event.uid.value == f"{session.name.rsplit('/', 1)[1]}@trainvite.dev"
    assert event.attendee.value == "mailto:sarah.chen@cloudtech.example"


async def test_platform_triggers_make_batches_for_review(
    services: Clients, js: JetStreamContext, namespace: str
) -> None:
    topology = Topology(namespace)
    ready = await js.pull_subscribe(topology.drafts_ready, stream=topology.invitations_stream)

    async def publish(kind: str, message: object) -> None:
        data = message.SerializeToString()  # type: ignore[attr-defined]
        await js.publish(
            topology.platform_trigger(kind), data, headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )

    await publish(
        "low_adoption",
        events_pb2.LowAdoptionDetected(
            event_id=str(uuid.uuid4()), customer_id="cloudtech", feature="report_scheduling"
        ),
    )
    low = await _pending(services, "customers/cloudtech", "trigger:low_adoption")
    assert low.drafts and all(
        d.angle == common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP for d in low.drafts
    )
    assert "ct-mike" not in {d.recipient.id for d in low.drafts}  # a power user has no gap there
    assert low.training_session.title == "Dashboards Fundamentals"  # the basics close a gap

    await publish(
        "onboarding_scheduled",
        events_pb2.OnboardingScheduled(
            event_id=str(uuid.uuid4()), customer_id="cloudtech", stakeholder_ids=["ct-priya"]
        ),
    )
    onboarding = await _pending(services, "customers/cloudtech", "trigger:onboarding_scheduled")
    assert [d.recipient.id for d in onboarding.drafts] == ["ct-priya"]
    assert onboarding.drafts[0].angle == common_pb2.PERSONALIZATION_ANGLE_ONBOARDING
    assert onboarding.drafts[0].content.subject.startswith("Welcome aboard")

    # A new alerts course, sooner than any other session on alerts: the one the release picks.
    alerts = await new_course(
        services,
        features=("alerts",),
        title=f"Smart Alerts {uuid.uuid4().hex[:6]}",
        target_roles=["it_admin", "operations_leader", "team_lead"],
    )
    await new_session(services, alerts, in_days(3), zone="America/New_York")
    await publish(
        "feature_released",
        events_pb2.FeatureReleased(
            event_id=str(uuid.uuid4()), feature="alerts", customer_ids=["cloudtech"]
        ),
    )
    released = await _pending(services, "customers/cloudtech", "trigger:feature_released")
    assert released.training_session.title == alerts.title
    assert released.drafts and all(
        d.angle == common_pb2.PERSONALIZATION_ANGLE_NEW_FEATURE for d in released.drafts
    )

    announced: list[events_pb2.DraftsReady] = []

    async def three_announced() -> bool:
        for m in await ready.fetch(10, timeout=0.2):  # TimeoutError: none yet
            announced.append(events_pb2.DraftsReady.FromString(m.data))
            await m.ack()
        return len(announced) >= 3

    await wait_for(three_announced, "three DraftsReady announced", timeout=10, interval=0)
    assert {a.trigger for a in announced} == {
        "low_adoption",
        "onboarding_scheduled",
        "feature_released",
    }
    assert {a.batch for a in announced} == {low.name, onboarding.name, released.name}
    assert all(a.csm_email == "alex.rivera@trainvite.dev" for a in announced)
