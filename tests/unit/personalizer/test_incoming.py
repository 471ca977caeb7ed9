"""What other services tell the personalizer, on fakes: platform triggers, session changes,
delivery outcomes, attendance and suppressed addresses, each applied once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.common.attendance import AttendanceFact
from services.common.errors import InvalidArgument, NotFound
from services.personalizer.domain.events import DraftsReady
from services.personalizer.domain.facts import (
    AddressSuppressed,
    DeliveryOutcome,
    FeatureReleased,
    LowAdoptionDetected,
    OnboardingScheduled,
)
from services.personalizer.domain.gaps import Usage
from services.personalizer.domain.model import (
    Angle,
    DeliveryState,
    ExclusionReason,
    InvitationBatch,
    Notice,
    Purpose,
)
from services.personalizer.service_layer import (
    deliveries,
    drafting,
    gaps,
    notices,
    review,
    triggers,
)
from tests.fakes.personalizer import FakePersonalizer
from tests.unit.personalizer.world import (
    ANA,
    BEN,
    CSM,
    DASHBOARDS,
    DASHBOARDS_AGAIN,
    DASHBOARDS_PAST,
    LOU,
    NINA,
    NOW,
    OTHER_CSM,
    world,
)


def ready(p: FakePersonalizer) -> list[DraftsReady]:
    return [e for e in p.store.published if isinstance(e, DraftsReady)]


def batches_of(p: FakePersonalizer, customer_id: str) -> list[InvitationBatch]:
    return [b for b in p.store.batches.values() if b.customer_id == customer_id]


def recipients(batch: InvitationBatch) -> list[str]:
    return sorted(d.recipient.stakeholder_id for d in batch.drafts)


# Platform triggers ---------------------------------------------------------------------------


async def test_a_released_feature_drafts_one_announced_batch_per_entitled_customer() -> None:
    p = world()
    event = FeatureReleased(uuid.uuid4(), "dashboards", ())
    assert await triggers.on_feature_released(p.deps, event) == 2
    [cloudtech], [northwind] = batches_of(p, "cloudtech"), batches_of(p, "northwind")
    assert {d.angle for d in cloudtech.drafts} == {Angle.NEW_FEATURE}
    assert recipients(northwind) == [NINA.id]
    assert sorted((e.customer_id, e.csm_email, e.draft_count) for e in ready(p)) == [
        ("cloudtech", CSM.subject, len(cloudtech.drafts)),
        ("northwind", OTHER_CSM.subject, 1),
    ]
    assert {e.trigger for e in ready(p)} == {"feature_released"}
    assert {e.batch for e in ready(p)} == {cloudtech.name, northwind.name}

    # Delivered again: every batch exists already, nothing is drafted or announced twice.
    await triggers.on_feature_released(p.deps, event)
    assert len(p.store.batches) == 2 and len(ready(p)) == 2


async def test_a_released_feature_goes_only_to_the_customers_named() -> None:
    p = world()
    await triggers.on_feature_released(
        p.deps, FeatureReleased(uuid.uuid4(), "dashboards", ("northwind",))
    )
    assert [b.customer_id for b in p.store.batches.values()] == ["northwind"]
    assert await triggers.on_feature_released(p.deps, FeatureReleased(uuid.uuid4(), "sso", ())) == 0


async def test_low_adoption_invites_only_those_with_a_gap_on_the_feature() -> None:
    p = world()
    p.store.usage[(BEN.id, "dashboards")] = Usage(active_days=25, events=500)
    event = LowAdoptionDetected(uuid.uuid4(), "cloudtech", "dashboards")
    assert await triggers.on_low_adoption(p.deps, event) == 1
    [batch] = p.store.batches.values()
    assert recipients(batch) == [ANA.id]  # Ben uses dashboards every day
    assert batch.session == DASHBOARDS and batch.drafts[0].angle is Angle.CLOSE_GAP
    assert [(e.trigger, e.batch) for e in ready(p)] == [("low_adoption", batch.name)]
    assert (
        await triggers.on_low_adoption(
            p.deps, LowAdoptionDetected(uuid.uuid4(), "gone", "dashboards")
        )
        == 0
    )


async def test_onboarding_invites_the_new_people_named_to_their_session() -> None:
    p = world()
    event = OnboardingScheduled(uuid.uuid4(), "cloudtech", (BEN.id, LOU.id), DASHBOARDS_AGAIN.name)
    assert await triggers.on_onboarding_scheduled(p.deps, event) == 1
    [batch] = p.store.batches.values()
    assert batch.session == DASHBOARDS_AGAIN
    assert {d.angle for d in batch.drafts} == {Angle.ONBOARDING}
    assert set(recipients(batch)) | {e.stakeholder.id for e in batch.excluded} == {BEN.id, LOU.id}
    assert [e.trigger for e in ready(p)] == ["onboarding_scheduled"]
    unknown = OnboardingScheduled(uuid.uuid4(), "cloudtech", (BEN.id,), "training-sessions/gone")
    with pytest.raises(NotFound):
        await triggers.on_onboarding_scheduled(p.deps, unknown)


# Session changes -----------------------------------------------------------------------------


async def _invited(p: FakePersonalizer) -> InvitationBatch:
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    return await review.approve_batch(p.deps, batch.name, "", [], CSM)


def _notice(purpose: Purpose) -> Notice:
    return Notice(
        event_id=uuid.uuid4(),
        purpose=purpose,
        session=DASHBOARDS,
        previous_start_time=DASHBOARDS.start_time,
        previous_time_zone=DASHBOARDS.time_zone,
        reason="The presenter is ill",
        changed_by="editor@trainvite.dev",
    )


async def test_a_session_change_drafts_a_notice_to_each_invitee_once() -> None:
    p = world()
    invited = await _invited(p)
    published = len(p.store.published)
    notice = _notice(Purpose.RESCHEDULED)
    assert await notices.notify_session_change(p.deps, notice) == 1
    [batch] = [b for b in p.store.batches.values() if b.purpose is Purpose.RESCHEDULED]
    assert recipients(batch) == recipients(invited)
    assert batch.notice_reason == "The presenter is ill"
    assert batch.created_by == "editor@trainvite.dev"
    assert len(p.store.published) == published + 1
    assert [(e.trigger, e.batch, e.draft_count) for e in ready(p)] == [
        ("session_rescheduled", batch.name, len(invited.drafts))
    ]
    assert await notices.notify_session_change(p.deps, notice) == 0
    assert len(p.store.published) == published + 1 and len(p.store.batches) == 2


async def test_a_cancellation_offers_the_alternatives() -> None:
    p = world()
    await _invited(p)
    p.catalog.cancelled.add(DASHBOARDS.name)
    await notices.notify_session_change(p.deps, _notice(Purpose.CANCELLED))
    [batch] = [b for b in p.store.batches.values() if b.purpose is Purpose.CANCELLED]
    assert all(DASHBOARDS_AGAIN.title in d.content.text_body for d in batch.drafts)
    assert all("METHOD:CANCEL" in d.content.calendar_ics for d in batch.drafts)


async def test_a_change_to_a_session_nobody_was_invited_to_drafts_nothing() -> None:
    p = world()
    assert await notices.notify_session_change(p.deps, _notice(Purpose.UPDATED)) == 0
    assert p.store.published == [] and p.store.batches == {}


# Delivery outcomes and suppressions ----------------------------------------------------------


async def test_a_delivery_outcome_is_shown_on_its_draft_once() -> None:
    p = world()
    batch = await _invited(p)
    d = batch.drafts[0]
    sent = DeliveryOutcome(uuid.uuid4(), d.id, DeliveryState.SENT, "", NOW)
    bounced = DeliveryOutcome(
        uuid.uuid4(), d.id, DeliveryState.FAILED, "550 mailbox unknown", NOW + dt.timedelta(1)
    )
    assert await deliveries.record_delivery_outcome(p.deps, sent)
    assert p.store.batch(batch.id).draft(d.id).delivery_state is DeliveryState.SENT
    assert p.store.batch(batch.id).draft(d.id).sent_at == NOW
    assert await deliveries.record_delivery_outcome(p.deps, bounced)
    # The first outcome delivered again must not hide the later one.
    assert not await deliveries.record_delivery_outcome(p.deps, sent)
    shown = p.store.batch(batch.id).draft(d.id)
    assert (shown.delivery_state, shown.delivery_detail) == (
        DeliveryState.FAILED,
        "550 mailbox unknown",
    )


async def test_a_suppressed_address_is_left_out_of_the_next_draft() -> None:
    p = world()
    event = AddressSuppressed(uuid.uuid4(), "ANA@cloudtech.example", "complaint")
    assert await deliveries.record_suppression(p.deps, event)
    assert not await deliveries.record_suppression(p.deps, event)
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    excluded = {e.stakeholder.id: e for e in batch.excluded}
    assert excluded[ANA.id].reason is ExclusionReason.SUPPRESSED
    assert "complaint" in excluded[ANA.id].detail


# Attendance ----------------------------------------------------------------------------------


async def test_attendance_is_kept_once_and_closes_the_gap() -> None:
    p = world()
    attended = AttendanceFact(
        uuid.uuid4(), DASHBOARDS_PAST.name, "ana@cloudtech.example", "attended"
    )
    assert await gaps.record_attendance(p.deps, attended)
    assert p.store.history[(ANA.id, DASHBOARDS_PAST.name)].state == "attended"
    # A late "cancelled" delivered once more does not undo attendance; the same event twice is
    # applied once.
    late = AttendanceFact(uuid.uuid4(), DASHBOARDS_PAST.name, "ana@cloudtech.example", "cancelled")
    assert await gaps.record_attendance(p.deps, late)
    assert not await gaps.record_attendance(p.deps, attended)
    assert p.store.history[(ANA.id, DASHBOARDS_PAST.name)].state == "attended"
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    assert {e.stakeholder.id: e.reason for e in batch.excluded}[ANA.id] is (
        ExclusionReason.ALREADY_TRAINED
    )


async def test_a_registration_is_applied_once() -> None:
    p = world()
    event_id = uuid.uuid4()
    registered = AttendanceFact(event_id, DASHBOARDS.name, "ben@cloudtech.example", "registered")
    assert await gaps.record_attendance(p.deps, registered)
    cancelled = AttendanceFact(uuid.uuid4(), DASHBOARDS.name, "ben@cloudtech.example", "cancelled")
    assert await gaps.record_attendance(p.deps, cancelled)
    assert not await gaps.record_attendance(p.deps, registered)
    assert p.store.history[(BEN.id, DASHBOARDS.name)].state == "cancelled"


async def test_attendance_that_cannot_be_true_yet_or_of_an_unknown_session_is_refused() -> None:
    p = world()
    ahead = AttendanceFact(uuid.uuid4(), DASHBOARDS.name, "ana@cloudtech.example", "attended")
    with pytest.raises(InvalidArgument):
        await gaps.record_attendance(p.deps, ahead)
    unknown = AttendanceFact(uuid.uuid4(), "training-sessions/gone", "ana@x.example", "registered")
    with pytest.raises(NotFound):
        await gaps.record_attendance(p.deps, unknown)
    assert all(stakeholder != ANA.id for stakeholder, _ in p.store.history)
