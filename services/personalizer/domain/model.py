"""The personalizer's domain: customers, adoption, sessions as the personalizer sees them,
and the invitation batch aggregate. No I/O here."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.common.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from services.common.fingerprint import content_sha256


class AdoptionLevel(enum.IntEnum):
    """Ordered: a higher value means more use than role peers."""

    NONE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    POWER = 5


class Angle(enum.StrEnum):
    """Why an invitation is written the way it is (docs/angles.md)."""

    CLOSE_GAP = "close_gap"
    GO_DEEPER = "go_deeper"
    LEAD_ADOPTION = "lead_adoption"
    NEW_FEATURE = "new_feature"
    ONBOARDING = "onboarding"


class ExclusionReason(enum.StrEnum):
    OPTED_OUT = "opted_out"
    NO_EMAIL = "no_email"
    ALREADY_INVITED = "already_invited"
    NOT_ENTITLED = "not_entitled"
    LOW_FIT = "low_fit"
    ALREADY_TRAINED = "already_trained"
    INVITED_RECENTLY = "invited_recently"
    SUPPRESSED = "suppressed"


class Purpose(enum.StrEnum):
    """What a batch tells its recipients: an invitation, or news about the session."""

    INVITATION = "invitation"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    UPDATED = "updated"


class DraftState(enum.StrEnum):
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    DROPPED = "dropped"


class BatchState(enum.StrEnum):
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"


class DeliveryState(enum.StrEnum):
    NOT_SENT = "not_sent"
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Customer:
    id: str
    display_name: str
    csm_email: str
    csm_name: str
    csm_signature: str
    entitlements: frozenset[str]
    feature_names: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def feature_name(self, key: str) -> str:
        """The feature as people read it ("Custom dashboards")."""
        return self.feature_names.get(key, key.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Stakeholder:
    id: str
    customer_id: str
    display_name: str
    email: str | None
    role: str
    title: str
    time_zone: str
    opted_out: bool = False

    @property
    def first_name(self) -> str:
        return self.display_name.split()[0] if self.display_name.strip() else ""


@dataclass(frozen=True)
class LearningOutcome:
    feature: str
    text: str
    # beginner | intermediate | advanced; empty reads as the session's level.
    level: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """A catalog session as the personalizer needs it: content and logistics."""

    name: str
    title: str
    topic: str
    level: str  # beginner | intermediate | advanced
    format: str  # live_webinar | in_person | on_demand
    features: tuple[str, ...]
    target_roles: tuple[str, ...]
    start_time: dt.datetime
    time_zone: str
    duration: dt.timedelta
    join_url: str
    registration_url: str
    presenter: str
    learning_outcomes: tuple[LearningOutcome, ...]
    # Grows with every change of the session: the calendar invitation's SEQUENCE.
    sequence: int = 0
    # The course, "courses/{id}": someone trained on it is not invited again.
    course: str = ""

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SelectionReason:
    factor: str
    weight: float
    text: str


@dataclass(frozen=True)
class Recipient:
    stakeholder_id: str
    display_name: str
    email: str
    role: str
    title: str
    time_zone: str


@dataclass(frozen=True)
class Content:
    subject: str
    text_body: str
    html_body: str
    calendar_ics: str

    def sha256(self) -> str:
        """Fingerprint of exactly what will be sent."""
        return content_sha256(self.subject, self.text_body, self.html_body, self.calendar_ics)


def check_header_safe(value: str, field_name: str) -> None:
    """A value bound for a mail header must be one line."""
    if "\r" in value or "\n" in value:
        raise InvalidArgument.single(field_name, "must not contain line breaks")


@dataclass
class InvitationDraft:
    id: uuid.UUID
    recipient: Recipient
    score: float
    reasons: list[SelectionReason]
    angle: Angle
    talking_points: list[str]
    content: Content
    registration_url: str
    state: DraftState = DraftState.PENDING_REVIEW
    content_sha256: str = ""
    delivery_state: DeliveryState = DeliveryState.NOT_SENT
    delivery_detail: str = ""
    updated_by: str = ""
    version: int = 1
    # The variables the draft was rendered with, to render it again from other templates.
    render_context: dict[str, Any] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def drop(self, etag: str, by: str) -> None:
        """Leave this recipient out before approval."""
        if self.state is not DraftState.PENDING_REVIEW:
            raise FailedPrecondition("only a draft waiting for review can be dropped")
        if etag and etag != self.etag:
            raise Aborted(f"draft changed since it was read (etag {self.etag}, given {etag})")
        self.state = DraftState.DROPPED
        self.updated_by = by
        self.version += 1

    def edit(self, content: Content, etag: str, by: str) -> None:
        """Change the content before approval; a stale etag is refused."""
        if self.state is not DraftState.PENDING_REVIEW:
            raise FailedPrecondition("an approved or dropped draft cannot be edited")
        if etag and etag != self.etag:
            raise Aborted(f"draft changed since it was read (etag {self.etag}, given {etag})")
        check_header_safe(content.subject, "draft.content.subject")
        if not content.subject.strip():
            raise InvalidArgument.single("draft.content.subject", "must not be empty")
        self.content = content
        self.updated_by = by
        self.version += 1


@dataclass(frozen=True)
class Exclusion:
    stakeholder: Stakeholder
    reason: ExclusionReason
    detail: str


@dataclass(frozen=True)
class Sender:
    email: str
    display_name: str


@dataclass(frozen=True)
class InvitationApproved:
    """Domain event: one invitation approved, its content frozen."""

    event_id: uuid.UUID
    batch: InvitationBatch
    draft: InvitationDraft
    approved_at: dt.datetime
    send_after: dt.datetime | None = None


@dataclass
class InvitationBatch:
    """The drafts for one customer and one session, reviewed and approved together."""

    id: uuid.UUID
    customer_id: str
    customer_name: str
    session: SessionInfo
    sender: Sender
    created_by: str
    created_at: dt.datetime
    drafts: list[InvitationDraft]
    excluded: list[Exclusion]
    state: BatchState = BatchState.PENDING_REVIEW
    approved_by: str = ""
    approved_at: dt.datetime | None = None
    version: int = 1
    purpose: Purpose = Purpose.INVITATION
    notice_reason: str = ""
    # The catalog event a notice answers; one notice per customer and event.
    source_event_id: uuid.UUID | None = None
    events: list[InvitationApproved] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"customers/{self.customer_id}/invitation-batches/{self.id}"

    def draft_name(self, draft: InvitationDraft) -> str:
        return f"{self.name}/drafts/{draft.id}"

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def draft(self, draft_id: uuid.UUID) -> InvitationDraft:
        for d in self.drafts:
            if d.id == draft_id:
                return d
        raise NotFound(f"{self.name}/drafts/{draft_id} does not exist")

    def add_draft(self, draft: InvitationDraft, stakeholder_id: str) -> None:
        """A left-out stakeholder put back in by the CSM, with their own draft."""
        if self.state is not BatchState.PENDING_REVIEW:
            raise FailedPrecondition("recipients can only be added before approval")
        self.excluded = [e for e in self.excluded if e.stakeholder.id != stakeholder_id]
        self.drafts.append(draft)
        self.touch()

    def touch(self) -> None:
        """Any change to a draft changes the batch etag too."""
        self.version += 1

    def approve(
        self,
        by: str,
        at: dt.datetime,
        etag: str,
        only: set[uuid.UUID] | None = None,
        send_after: dt.datetime | None = None,
    ) -> None:
        """Freeze the pending drafts (all, or `only` these) and record who approved them and
        when. Drafts approved before are left as they are, so approving again sends nothing."""
        if self.state is BatchState.APPROVED:
            return
        if etag and etag != self.etag:
            raise Aborted(f"batch changed since it was reviewed (etag {self.etag}, given {etag})")
        if only is not None:
            unknown = only - {d.id for d in self.drafts}
            if unknown:
                raise InvalidArgument.single(
                    "drafts", f"not in this batch: {sorted(map(str, unknown))}"
                )
        pending = [
            d
            for d in self.drafts
            if d.state is DraftState.PENDING_REVIEW and (only is None or d.id in only)
        ]
        if not pending and only is None:
            raise FailedPrecondition("the batch has no draft to approve")
        for d in pending:
            d.state = DraftState.APPROVED
            d.content_sha256 = d.content.sha256()
            d.delivery_state = DeliveryState.PENDING
            self.events.append(InvitationApproved(uuid.uuid4(), self, d, at, send_after))
        if pending:
            self.approved_by = by
            self.approved_at = at
            self.version += 1
        if not any(d.state is DraftState.PENDING_REVIEW for d in self.drafts):
            self.state = BatchState.APPROVED


@dataclass(frozen=True)
class Notice:
    """A change of a session that its invitees must hear about (from the catalog)."""

    event_id: uuid.UUID
    purpose: Purpose
    session: SessionInfo
    previous_start_time: dt.datetime | None
    previous_time_zone: str
    reason: str
    changed_by: str
    alternatives: tuple[SessionInfo, ...] = ()


@dataclass(frozen=True)
class Invitee:
    """Someone holding an approved invitation to a session."""

    customer_id: str
    recipient: Recipient
    angle: Angle
    registration_url: str
