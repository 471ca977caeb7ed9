"""The personalizer's domain: customers, adoption, sessions as the personalizer sees them,
and the invitation batch aggregate. No I/O here."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.common.domain import Aggregate
from services.common.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
)
from services.common.fingerprint import content_sha256
from services.personalizer.domain import names
from services.personalizer.domain.events import DraftsReady, InvitationApproved

if TYPE_CHECKING:
    from services.personalizer.domain.selection import Assessment


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
    """What a batch tells its recipients: an invitation, news about the session, or the answer
    to the person's own registration."""

    INVITATION = "invitation"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    UPDATED = "updated"
    CONFIRMATION = "confirmation"


class ConfirmationKind(enum.StrEnum):
    """What a confirmation tells the person: a seat taken, a place on the waitlist, or a seat
    given to them from the waitlist."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    PROMOTED = "promoted"


# Who approves a confirmation: it answers the person's own action, so no CSM reviews it.
SYSTEM_REGISTRATION = "system:registration"


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
        return names.session_id(self.name)


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

    @classmethod
    def of(cls, person: Stakeholder) -> Recipient:
        return cls(
            person.id,
            person.display_name,
            person.email or "",
            person.role,
            person.title,
            person.time_zone,
        )


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


def _ensure_etag(current: str, given: str, what: str) -> None:
    """A change based on a stale read is refused; no etag means "whatever it is now"."""
    if given and given != current:
        raise Aborted(f"{what} (etag {current}, given {given})")


@dataclass
class InvitationDraft:
    """One recipient's draft. Its changes are made through its batch (`InvitationBatch`), whose
    etag changes with each of them; approved or dropped, it changes no more."""

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
    # The templates it was rendered from: the angle's version, OWN_TEMPLATES for the CSM's own,
    # "" for notices and confirmations (and drafts from before versions were kept).
    template_version: str = ""
    # When its invitation was sent, as the dispatcher reported it.
    sent_at: dt.datetime | None = None
    # Why its angle (see domain/learning.py); empty when a trigger imposed it.
    angle_reason: str = ""

    @classmethod
    def invitation(
        cls,
        draft_id: uuid.UUID,
        assessment: Assessment,
        content: Content,
        registration_url: str,
        render_context: dict[str, Any],
        by: str,
        template_version: str = "",
    ) -> InvitationDraft:
        """The draft of an invitation to one assessed stakeholder."""
        return cls(
            id=draft_id,
            recipient=Recipient.of(assessment.stakeholder),
            score=assessment.score,
            reasons=assessment.reasons,
            angle=assessment.angle,
            talking_points=assessment.talking_points,
            content=content,
            registration_url=registration_url,
            updated_by=by,
            render_context=render_context,
            template_version=template_version,
            angle_reason=assessment.angle_reason,
        )

    @classmethod
    def notice(
        cls, draft_id: uuid.UUID, invitee: Invitee, content: Content, by: str
    ) -> InvitationDraft:
        """The draft of a notice to someone holding an approved invitation."""
        reason = SelectionReason("invited", 1.0, "Invited to this session")
        return cls._to_the_invited(
            draft_id,
            invitee.recipient,
            invitee.angle,
            invitee.registration_url,
            content,
            reason,
            by,
        )

    @classmethod
    def confirmation(
        cls, draft_id: uuid.UUID, invited: InvitationDraft, content: Content
    ) -> InvitationDraft:
        """The draft of a confirmation to the person an approved invitation went to."""
        reason = SelectionReason("registered", 1.0, "Answers the person's registration")
        return cls._to_the_invited(
            draft_id,
            invited.recipient,
            invited.angle,
            invited.registration_url,
            content,
            reason,
            SYSTEM_REGISTRATION,
        )

    @classmethod
    def _to_the_invited(
        cls,
        draft_id: uuid.UUID,
        recipient: Recipient,
        angle: Angle,
        registration_url: str,
        content: Content,
        reason: SelectionReason,
        by: str,
    ) -> InvitationDraft:
        """A message to someone already invited: nobody is selected, so the one reason says
        why it goes to them, and the invitation's angle and link carry over."""
        return cls(
            id=draft_id,
            recipient=recipient,
            score=1.0,
            reasons=[reason],
            angle=angle,
            talking_points=[],
            content=content,
            registration_url=registration_url,
            updated_by=by,
        )

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def drop(self, etag: str, by: str) -> None:
        """Leave this recipient out before approval."""
        if self.state is not DraftState.PENDING_REVIEW:
            raise FailedPrecondition("only a draft waiting for review can be dropped")
        _ensure_etag(self.etag, etag, "draft changed since it was read")
        self._dropped(by)

    def _dropped(self, by: str) -> None:
        self.state = DraftState.DROPPED
        self.updated_by = by
        self.version += 1

    def edit(self, content: Content, etag: str, by: str) -> None:
        """Change the content before approval; a stale etag is refused."""
        if self.state is not DraftState.PENDING_REVIEW:
            raise FailedPrecondition("an approved or dropped draft cannot be edited")
        _ensure_etag(self.etag, etag, "draft changed since it was read")
        check_header_safe(content.subject, "draft.content.subject")
        if not content.subject.strip():
            raise InvalidArgument.single("draft.content.subject", "must not be empty")
        self.content = content
        self.updated_by = by
        self.version += 1

    def freeze(self) -> None:
        """Approve the content as it is now: its fingerprint is what the dispatcher checks."""
        if self.state is not DraftState.PENDING_REVIEW:
            raise FailedPrecondition("only a draft waiting for review can be approved")
        self.state = DraftState.APPROVED
        self.content_sha256 = self.content.sha256()
        self.delivery_state = DeliveryState.PENDING


@dataclass(frozen=True)
class Exclusion:
    stakeholder: Stakeholder
    reason: ExclusionReason
    # What the CSM reads: why, in plain words.
    detail: str
    # The fit score of someone left out as a poor fit; the figure is kept apart from the words.
    score: float | None = None


# What leaves a stakeholder out for good: the CSM may put anyone else back in, but writing to
# someone who opted out, has no address or is suppressed, or inviting someone twice to the same
# session, is never a reviewer's call.
NEVER_ADDED_BACK = frozenset(
    {
        ExclusionReason.OPTED_OUT,
        ExclusionReason.NO_EMAIL,
        ExclusionReason.ALREADY_INVITED,
        ExclusionReason.SUPPRESSED,
    }
)


@dataclass(frozen=True)
class Sender:
    email: str
    display_name: str


# The template version of a draft rendered from the CSM's own templates.
OWN_TEMPLATES = "own"

# The rule named when a batch is refused for the contact budget.
CONTACT_BUDGET = "CONTACT_BUDGET"


@dataclass(frozen=True)
class ContactBudget:
    """A person gets at most one training message within the frequency cap's window, across
    every batch: who was approved one already (stakeholder id -> what and when, in words), the
    CSM's overrides (stakeholder id -> reason) and whether to leave the others out."""

    window_days: int = 14
    recent: Mapping[str, str] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)
    leave_out: bool = False


@dataclass
class InvitationBatch(Aggregate):
    """The drafts for one customer and one session, reviewed and approved together.

    Every change to a draft goes through the batch, so that the batch's etag changes with it.
    """

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
    # The event a batch answers (a trigger, a session change); one batch per customer and event.
    source_event_id: uuid.UUID | None = None
    # False for the answer to a request that found nobody to invite: such a batch is not kept,
    # since it has nothing to review or approve, and only tells who was left out and why.
    kept: bool = True

    @classmethod
    def drafted(
        cls,
        batch_id: uuid.UUID,
        customer: Customer,
        session: SessionInfo,
        by: str,
        at: dt.datetime,
        drafts: list[InvitationDraft],
        excluded: list[Exclusion],
        source_event_id: uuid.UUID | None = None,
        trigger: str = "",
    ) -> InvitationBatch:
        """A new batch of invitations; one made by a trigger is announced to its CSM, who did
        not ask for it."""
        batch = cls(
            id=batch_id,
            customer_id=customer.id,
            customer_name=customer.display_name,
            session=session,
            sender=Sender(customer.csm_email, customer.csm_name),
            created_by=by,
            created_at=at,
            drafts=drafts,
            excluded=excluded,
            source_event_id=source_event_id,
        )
        if trigger:
            batch._announce(trigger)
        return batch

    @classmethod
    def notice(
        cls,
        batch_id: uuid.UUID,
        customer: Customer,
        notice: Notice,
        at: dt.datetime,
        drafts: list[InvitationDraft],
    ) -> InvitationBatch:
        """A new batch telling a customer's invitees of a session change, announced to the
        CSM."""
        batch = cls(
            id=batch_id,
            customer_id=customer.id,
            customer_name=customer.display_name,
            session=notice.session,
            sender=Sender(customer.csm_email, customer.csm_name),
            created_by=notice.changed_by or "catalog",
            created_at=at,
            drafts=drafts,
            excluded=[],
            purpose=notice.purpose,
            notice_reason=notice.reason,
            source_event_id=notice.event_id,
        )
        batch._announce(f"session_{notice.purpose.value}")
        return batch

    @classmethod
    def confirmation(
        cls,
        batch_id: uuid.UUID,
        invitation: InvitationBatch,
        kind: ConfirmationKind,
        session: SessionInfo,
        draft: InvitationDraft,
        at: dt.datetime,
        event_id: uuid.UUID,
    ) -> InvitationBatch:
        """A confirmation of one person's registration, from the CSM who invited them, approved
        at once: it answers the person's own action, so it waits for no review and is announced
        to the dispatcher like any approved invitation (sent once, within the sender's quota)."""
        batch = cls(
            id=batch_id,
            customer_id=invitation.customer_id,
            customer_name=invitation.customer_name,
            session=session,
            sender=invitation.sender,
            created_by=SYSTEM_REGISTRATION,
            created_at=at,
            drafts=[draft],
            excluded=[],
            purpose=Purpose.CONFIRMATION,
            notice_reason=kind.value,
            source_event_id=event_id,
        )
        batch.approve(SYSTEM_REGISTRATION, at, "")
        return batch

    def _announce(self, trigger: str) -> None:
        self.record(
            DraftsReady(
                batch=self.name,
                customer_id=self.customer_id,
                csm_email=self.sender.email,
                trigger=trigger,
                draft_count=len(self.drafts),
            )
        )

    @property
    def name(self) -> str:
        return names.batch_name(self.customer_id, self.id)

    def draft_name(self, draft: InvitationDraft) -> str:
        return names.draft_name(self.customer_id, self.id, draft.id)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def draft(self, draft_id: uuid.UUID) -> InvitationDraft:
        for d in self.drafts:
            if d.id == draft_id:
                return d
        raise NotFound(f"{names.draft_name(self.customer_id, self.id, draft_id)} does not exist")

    def edit_draft(
        self,
        draft_id: uuid.UUID,
        content: Content,
        etag: str,
        by: str,
        template_version: str | None = None,
    ) -> InvitationDraft:
        """Change a pending draft's content (rendered again from `template_version`, when
        given); the draft's etag guards against a lost edit."""
        draft = self.draft(draft_id)
        draft.edit(content, etag, by)
        if template_version is not None:
            draft.template_version = template_version
        self._touch()
        return draft

    def drop_draft(self, draft_id: uuid.UUID, etag: str, by: str) -> InvitationDraft:
        """Leave one recipient out before approval."""
        draft = self.draft(draft_id)
        draft.drop(etag, by)
        self._touch()
        return draft

    def left_out(self, stakeholder_id: str, etag: str) -> Stakeholder:
        """The stakeholder left out of this batch whom the CSM may put back in, or why not."""
        _ensure_etag(self.etag, etag, "batch changed since it was read")
        exclusion = next((e for e in self.excluded if e.stakeholder.id == stakeholder_id), None)
        if exclusion is None:
            raise InvalidArgument.single("stakeholder", "is not among the stakeholders left out")
        if exclusion.reason in NEVER_ADDED_BACK:
            raise FailedPrecondition(f"{exclusion.stakeholder.display_name}: {exclusion.detail}")
        if self.state is not BatchState.PENDING_REVIEW:
            raise FailedPrecondition("recipients can only be added before approval")
        return exclusion.stakeholder

    def add_recipient(self, draft: InvitationDraft, etag: str) -> None:
        """A left-out stakeholder put back in by the CSM, with their own draft."""
        stakeholder_id = self.left_out(draft.recipient.stakeholder_id, etag).id
        self.excluded = [e for e in self.excluded if e.stakeholder.id != stakeholder_id]
        self.drafts.append(draft)
        self._touch()

    def _touch(self) -> None:
        """Any change to a draft changes the batch etag too."""
        self.version += 1

    def approve(
        self,
        by: str,
        at: dt.datetime,
        etag: str,
        only: set[uuid.UUID] | None = None,
        send_after: dt.datetime | None = None,
        budget: ContactBudget = ContactBudget(),
    ) -> list[InvitationDraft]:
        """Freeze the pending drafts (all, or `only` these), record who approved them and when,
        and an InvitationApproved for each; the drafts approved now are returned. Drafts
        approved before are left as they are, so approving again sends nothing. A draft to
        someone over the contact budget refuses the approval (naming each such draft), unless
        the CSM overrode it for that person or asked to leave them out (the draft is dropped)."""
        if self.state is BatchState.APPROVED:
            return []
        _ensure_etag(self.etag, etag, "batch changed since it was reviewed")
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
        if self.purpose is Purpose.INVITATION:
            # Notices and confirmations answer a change of the person's session or their own
            # registration: only invitations spend the contact budget.
            pending = self._within_budget(pending, budget, by)
        for d in pending:
            d.freeze()
            self.record(
                InvitationApproved(
                    invitation=self.draft_name(d),
                    batch=self.name,
                    customer_id=self.customer_id,
                    training_session=self.session.name,
                    recipient=d.recipient,
                    sender=self.sender,
                    content=d.content,
                    content_sha256=d.content_sha256,
                    angle=d.angle,
                    approved_by=by,
                    approved_at=at,
                    send_after=send_after,
                    purpose=self.purpose,
                    contact_budget_override=budget.overrides.get(d.recipient.stakeholder_id, ""),
                )
            )
        if pending:
            self.approved_by = by
            self.approved_at = at
            self.version += 1
        if not any(d.state is DraftState.PENDING_REVIEW for d in self.drafts):
            self.state = BatchState.APPROVED
        return pending

    def _within_budget(
        self, pending: list[InvitationDraft], budget: ContactBudget, by: str
    ) -> list[InvitationDraft]:
        """The drafts that may be approved under the contact budget, or FailedPrecondition
        naming each one that may not."""
        recipients = {d.recipient.stakeholder_id for d in pending}
        stray = sorted(set(budget.overrides) - recipients)
        if stray:
            raise InvalidArgument.single(
                "contact_budget_overrides",
                f"not recipients of the drafts being approved: {', '.join(stray)}",
            )
        over = [
            d
            for d in pending
            if d.recipient.stakeholder_id in budget.recent
            and d.recipient.stakeholder_id not in budget.overrides
        ]
        if not over:
            return pending
        if not budget.leave_out:
            raise FailedPrecondition(
                f"{len(over)} of these people were already approved a training message in the"
                f" last {budget.window_days} days; approve with a reason for each, or without"
                " them",
                [
                    PreconditionViolation(
                        CONTACT_BUDGET,
                        self.draft_name(d),
                        f"{d.recipient.display_name or d.recipient.email}: invited to"
                        f" {budget.recent[d.recipient.stakeholder_id]}; one training message"
                        f" per {budget.window_days} days",
                    )
                    for d in over
                ],
            )
        if len(over) == len(pending):
            raise FailedPrecondition(
                "everyone being approved was already approved a training message in the last"
                f" {budget.window_days} days: nothing is left to approve"
            )
        for d in over:
            d._dropped(by)  # the batch's approval decides, not a stale view of the draft
        left_out = {d.id for d in over}
        return [d for d in pending if d.id not in left_out]


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


@dataclass(frozen=True)
class TrainingRecord:
    """A session one person registered for or attended, kept from attendance events."""

    stakeholder_id: str
    training_session: str
    course: str
    course_title: str
    features: tuple[str, ...]
    state: str
    session_start: dt.datetime
