"""protobuf <-> domain for the personalizer's messages."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2
from trainvite.common.v1 import common_pb2
from trainvite.personalizer.v1 import personalizer_pb2 as pb

from services.common.errors import Violations
from services.personalizer.adapters.catalog_client import FORMAT_TO_PB, LEVEL_TO_PB
from services.personalizer.adapters.events import ANGLE_TO_PB
from services.personalizer.domain import names
from services.personalizer.domain.customer_names import Resolution
from services.personalizer.domain.funnel import Dimension, Funnel, FunnelRow, Rate
from services.personalizer.domain.gaps import FeatureAdoption
from services.personalizer.domain.model import (
    AdoptionLevel,
    BatchState,
    DeliveryState,
    DraftState,
    ExclusionReason,
    InvitationBatch,
    InvitationDraft,
    Purpose,
    SessionInfo,
    Stakeholder,
)
from services.personalizer.service_layer.gaps import TrainingGaps

_LEVEL = {
    AdoptionLevel.NONE: common_pb2.ADOPTION_LEVEL_NONE,
    AdoptionLevel.LOW: common_pb2.ADOPTION_LEVEL_LOW,
    AdoptionLevel.MEDIUM: common_pb2.ADOPTION_LEVEL_MEDIUM,
    AdoptionLevel.HIGH: common_pb2.ADOPTION_LEVEL_HIGH,
    AdoptionLevel.POWER: common_pb2.ADOPTION_LEVEL_POWER,
}
_DRAFT_STATE = {
    DraftState.PENDING_REVIEW: pb.DRAFT_STATE_PENDING_REVIEW,
    DraftState.APPROVED: pb.DRAFT_STATE_APPROVED,
    DraftState.DROPPED: pb.DRAFT_STATE_DROPPED,
}
_PURPOSE = {
    Purpose.INVITATION: pb.BATCH_PURPOSE_INVITATION,
    Purpose.RESCHEDULED: pb.BATCH_PURPOSE_RESCHEDULED,
    Purpose.CANCELLED: pb.BATCH_PURPOSE_CANCELLED,
    Purpose.UPDATED: pb.BATCH_PURPOSE_UPDATED,
    Purpose.CONFIRMATION: pb.BATCH_PURPOSE_CONFIRMATION,
}
_BATCH_STATE = {
    BatchState.PENDING_REVIEW: pb.BATCH_STATE_PENDING_REVIEW,
    BatchState.APPROVED: pb.BATCH_STATE_APPROVED,
}
DELIVERY_STATE_TO_PB = {
    DeliveryState.NOT_SENT: common_pb2.DELIVERY_STATE_UNSPECIFIED,
    DeliveryState.PENDING: common_pb2.DELIVERY_STATE_PENDING,
    DeliveryState.SENT: common_pb2.DELIVERY_STATE_SENT,
    DeliveryState.FAILED: common_pb2.DELIVERY_STATE_FAILED,
    DeliveryState.SUPPRESSED: common_pb2.DELIVERY_STATE_SUPPRESSED,
    DeliveryState.CANCELLED: common_pb2.DELIVERY_STATE_CANCELLED,
}
DELIVERY_STATE_FROM_PB = {v: k for k, v in DELIVERY_STATE_TO_PB.items()}
_EXCLUSION = {
    ExclusionReason.OPTED_OUT: pb.EXCLUSION_REASON_OPTED_OUT,
    ExclusionReason.NO_EMAIL: pb.EXCLUSION_REASON_NO_EMAIL,
    ExclusionReason.ALREADY_INVITED: pb.EXCLUSION_REASON_ALREADY_INVITED,
    ExclusionReason.NOT_ENTITLED: pb.EXCLUSION_REASON_NOT_ENTITLED,
    ExclusionReason.LOW_FIT: pb.EXCLUSION_REASON_LOW_FIT,
    ExclusionReason.ALREADY_TRAINED: pb.EXCLUSION_REASON_ALREADY_TRAINED,
    ExclusionReason.INVITED_RECENTLY: pb.EXCLUSION_REASON_INVITED_RECENTLY,
    ExclusionReason.SUPPRESSED: pb.EXCLUSION_REASON_SUPPRESSED,
}


def _stakeholder(s: Stakeholder) -> pb.Stakeholder:
    return pb.Stakeholder(
        id=s.id,
        display_name=s.display_name,
        email=s.email or "",
        role=s.role,
        title=s.title,
        time_zone=s.time_zone,
    )


def _adoption(a: FeatureAdoption) -> pb.FeatureAdoption:
    return pb.FeatureAdoption(
        feature=a.feature,
        level=_LEVEL[a.level],
        active_days=a.active_days,
        events=a.events,
        role_median_active_days=a.role_median_active_days,
        role_median_events=a.role_median_events,
        gap=a.gap,
        explanation=a.explanation,
        role_p25_active_days=a.role_p25_active_days,
        role_p75_active_days=a.role_p75_active_days,
        trained=bool(a.trained_by),
        role_peers=a.role_peers,
    )


def gaps_to_pb(gaps: TrainingGaps) -> pb.TrainingGaps:
    message = pb.TrainingGaps(
        name=names.gaps_name(gaps.customer.id),
        customer_display_name=gaps.customer.display_name,
        window_days=gaps.window_days,
        stakeholders=[
            pb.StakeholderGaps(
                stakeholder=_stakeholder(s.stakeholder), adoption=[_adoption(a) for a in s.adoption]
            )
            for s in gaps.stakeholders
        ],
        feature_gaps=[
            pb.FeatureGap(
                feature=g.feature,
                display_name=g.display_name,
                stakeholders=g.stakeholders,
                gap_share=g.gap_share,
                training_sessions=[session_to_pb(s) for s in g.sessions],
            )
            for g in gaps.feature_gaps
        ],
    )
    if gaps.benchmarks_time is not None:
        message.benchmarks_time.FromDatetime(gaps.benchmarks_time)
    return message


def session_to_pb(s: SessionInfo) -> catalog_pb2.TrainingSession:
    """The session snapshot a batch was drafted from, in the catalog's own message."""
    start = Timestamp()
    start.FromDatetime(s.start_time)
    duration = Duration()
    duration.FromTimedelta(s.duration)
    return catalog_pb2.TrainingSession(
        name=s.name,
        course=s.course,
        title=s.title,
        topic=s.topic,
        level=LEVEL_TO_PB.get(s.level, catalog_pb2.SESSION_LEVEL_UNSPECIFIED),
        format=FORMAT_TO_PB.get(s.format, catalog_pb2.SESSION_FORMAT_UNSPECIFIED),
        features=s.features,
        target_roles=s.target_roles,
        start_time=start,
        time_zone=s.time_zone,
        duration=duration,
        join_url=s.join_url,
        registration_url=s.registration_url,
        presenter=s.presenter,
        learning_outcomes=[
            catalog_pb2.LearningOutcome(
                feature=o.feature,
                text=o.text,
                level=LEVEL_TO_PB.get(o.level, catalog_pb2.SESSION_LEVEL_UNSPECIFIED),
            )
            for o in s.learning_outcomes
        ],
    )


def draft_to_pb(name: str, d: InvitationDraft) -> pb.InvitationDraft:
    r = d.recipient
    return pb.InvitationDraft(
        name=name,
        recipient=pb.Stakeholder(
            id=r.stakeholder_id,
            display_name=r.display_name,
            email=r.email,
            role=r.role,
            title=r.title,
            time_zone=r.time_zone,
        ),
        score=d.score,
        reasons=[
            pb.SelectionReason(factor=x.factor, weight=x.weight, text=x.text) for x in d.reasons
        ],
        angle=ANGLE_TO_PB[d.angle],
        talking_points=d.talking_points,
        content=common_pb2.InvitationContent(
            subject=d.content.subject,
            text_body=d.content.text_body,
            html_body=d.content.html_body,
            calendar_ics=d.content.calendar_ics,
        ),
        registration_url=d.registration_url,
        state=_DRAFT_STATE[d.state],
        content_sha256=d.content_sha256,
        delivery_state=DELIVERY_STATE_TO_PB[d.delivery_state],
        delivery_detail=d.delivery_detail,
        updated_by=d.updated_by,
        etag=d.etag,
        angle_reason=d.angle_reason,
    )


def _basic_draft(name: str, d: InvitationDraft) -> pb.InvitationDraft:
    r = d.recipient
    return pb.InvitationDraft(
        name=name,
        recipient=pb.Stakeholder(
            id=r.stakeholder_id,
            display_name=r.display_name,
            email=r.email,
            role=r.role,
            title=r.title,
            time_zone=r.time_zone,
        ),
        score=d.score,
        angle=ANGLE_TO_PB[d.angle],
        state=_DRAFT_STATE[d.state],
        delivery_state=DELIVERY_STATE_TO_PB[d.delivery_state],
        etag=d.etag,
    )


def batch_to_pb(
    batch: InvitationBatch, view: int = pb.INVITATION_BATCH_VIEW_FULL
) -> pb.InvitationBatch:
    created = Timestamp()
    created.FromDatetime(batch.created_at)
    message = pb.InvitationBatch(
        name=batch.name if batch.kept else "",
        customer_display_name=batch.customer_name,
        training_session=session_to_pb(batch.session),
        sender=common_pb2.Sender(email=batch.sender.email, display_name=batch.sender.display_name),
        # A batch that was not kept cannot be fetched, reviewed or approved: no name, state or
        # etag to use for that.
        state=_BATCH_STATE[batch.state] if batch.kept else pb.BATCH_STATE_UNSPECIFIED,
        drafts=[
            (_basic_draft if view == pb.INVITATION_BATCH_VIEW_BASIC else draft_to_pb)(
                batch.draft_name(d), d
            )
            for d in batch.drafts
        ],
        excluded=[
            pb.ExcludedStakeholder(
                stakeholder=_stakeholder(e.stakeholder),
                reason=_EXCLUSION[e.reason],
                detail=e.detail,
                score=e.score,
            )
            for e in batch.excluded
        ],
        created_by=batch.created_by,
        create_time=created,
        approved_by=batch.approved_by,
        etag=batch.etag if batch.kept else "",
        purpose=_PURPOSE[batch.purpose],
        notice_reason=batch.notice_reason,
    )
    if batch.approved_at is not None:
        message.approve_time.FromDatetime(batch.approved_at)
    return message


def resolution_to_pb(r: Resolution) -> pb.ResolveCustomerResponse:
    return pb.ResolveCustomerResponse(
        customer=names.customer_name(r.match.id) if r.match is not None else "",
        candidates=[
            pb.CustomerCandidate(
                name=names.customer_name(c.customer.id),
                display_name=c.customer.display_name,
                why=c.why.value,
                score=c.score,
            )
            for c in r.candidates
        ],
    )


# A reason is a sentence or two for the batch's history, not a document.
_MAX_OVERRIDE_REASON_CHARS = 500


def contact_budget_overrides(request: pb.ApproveInvitationBatchRequest) -> dict[str, str]:
    """stakeholder id -> the CSM's reason, or InvalidArgument naming each bad entry."""
    v = Violations()
    overrides: dict[str, str] = {}
    for i, o in enumerate(request.contact_budget_overrides):
        field = f"contact_budget_overrides[{i}]"
        stakeholder, reason = o.stakeholder.strip(), " ".join(o.reason.split())
        if not stakeholder:
            v.add(f"{field}.stakeholder", "is required")
        elif stakeholder in overrides:
            v.add(f"{field}.stakeholder", f"{stakeholder} is overridden twice")
        if not reason:
            v.add(f"{field}.reason", "is required: say why this person hears from us again")
        elif len(reason) > _MAX_OVERRIDE_REASON_CHARS:
            v.add(f"{field}.reason", f"must be at most {_MAX_OVERRIDE_REASON_CHARS} characters")
        overrides[stakeholder] = reason
    v.raise_if_any()
    return overrides


DIMENSION_FROM_PB = {
    pb.FUNNEL_DIMENSION_UNSPECIFIED: Dimension.NONE,
    pb.FUNNEL_DIMENSION_ANGLE: Dimension.ANGLE,
    pb.FUNNEL_DIMENSION_ROLE: Dimension.ROLE,
    pb.FUNNEL_DIMENSION_TEMPLATE_VERSION: Dimension.TEMPLATE_VERSION,
    pb.FUNNEL_DIMENSION_SEND_WEEKDAY: Dimension.SEND_WEEKDAY,
    pb.FUNNEL_DIMENSION_SEND_HOUR: Dimension.SEND_HOUR,
    pb.FUNNEL_DIMENSION_LEAD_TIME: Dimension.LEAD_TIME,
}
_DIMENSION_TO_PB = {d: p for p, d in DIMENSION_FROM_PB.items()}


def _rate(r: Rate) -> pb.FunnelRate:
    lower, upper = r.interval
    return pb.FunnelRate(
        rate=r.value,
        lower=lower,
        upper=upper,
        successes=r.successes,
        trials=r.trials,
        too_little_data=r.too_little_data,
    )


def _funnel_row(r: FunnelRow) -> pb.FunnelRow:
    return pb.FunnelRow(
        key=r.key,
        drafted=r.drafted,
        approved=r.approved,
        sent=r.sent,
        registered=r.registered,
        attended=r.attended,
        approval=_rate(r.approval),
        delivery=_rate(r.delivery),
        registration=_rate(r.registration),
        attendance=_rate(r.attendance),
    )


def funnel_to_pb(f: Funnel) -> pb.InvitationFunnel:
    return pb.InvitationFunnel(
        group_by=_DIMENSION_TO_PB[f.dimension],
        rows=[_funnel_row(r) for r in f.rows],
        total=_funnel_row(f.total),
    )
