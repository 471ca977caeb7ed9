"""What the personalizer's use cases need from the outside: the catalog, the renderer, and the
repositories of its unit of work. Adapters implement these; the unit tests' fakes do too."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

from services.personalizer.domain.customer_names import NamedCustomer
from services.personalizer.domain.funnel import Invitation as FunnelInvitation
from services.personalizer.domain.gaps import RoleBenchmark, Usage
from services.personalizer.domain.learning import Outcomes
from services.personalizer.domain.model import (
    Angle,
    ConfirmationKind,
    Content,
    Customer,
    DeliveryState,
    InvitationBatch,
    Invitee,
    Notice,
    Recipient,
    SessionInfo,
    Stakeholder,
    TrainingRecord,
)
from services.personalizer.domain.selection import Assessment


class SessionSource(Protocol):
    """The catalog, as the personalizer asks it."""

    async def get(self, name: str, allow_cancelled: bool = False) -> SessionInfo: ...

    async def best_match(self, topic: str) -> SessionInfo: ...

    async def alternatives(self, name: str, limit: int = 3) -> list[SessionInfo]: ...

    async def upcoming(
        self, feature: str = "", level: str = "", limit: int = 3
    ) -> list[SessionInfo]: ...


class Renderer(Protocol):
    def render(
        self,
        assessment: Assessment,
        customer: Customer,
        session: SessionInfo,
        invitation: str,
        now: dt.datetime,
        alternatives: tuple[SessionInfo, ...] = (),
    ) -> tuple[Content, str, dict[str, Any]]:
        """The content of the draft named `invitation`, the recipient's registration link and
        the variables rendered with."""
        ...

    def template_version(self, angle: Angle) -> str:
        """A short digest of the angle's templates as they are now."""
        ...

    def render_angle(self, angle: Angle, context: dict[str, Any]) -> tuple[str, str, str]: ...

    async def render_own(
        self, subject_template: str, body_template: str, context: dict[str, Any]
    ) -> tuple[str, str, str]: ...

    async def clean_html(self, html: str) -> str: ...

    def render_notice(
        self,
        notice: Notice,
        recipient: Recipient,
        registration_url: str,
        customer: Customer,
        now: dt.datetime,
    ) -> Content: ...

    def render_confirmation(
        self,
        kind: ConfirmationKind,
        session: SessionInfo,
        recipient: Recipient,
        registration_url: str,
        customer: Customer,
        now: dt.datetime,
        waitlist_position: int = 0,
    ) -> Content: ...


class BatchRepository(Protocol):
    async def add(self, batch: InvitationBatch, request_id: str | None) -> bool:
        """Store a new batch with its drafts; False (nothing stored) when its customer has a
        batch of the same request id or source event already."""
        ...

    async def id_for(
        self, customer_id: str, request_id: str | None, source_event_id: uuid.UUID | None
    ) -> uuid.UUID | None: ...

    async def get(
        self, customer_id: str, batch_id: uuid.UUID, for_update: bool = False
    ) -> InvitationBatch | None: ...

    async def save(self, batch: InvitationBatch) -> None:
        """Write back a stored batch and its drafts, new ones included. FailedPrecondition when
        a person would hold two approved invitations to one session."""
        ...

    async def invited_stakeholders(
        self, training_session: str, stakeholder_ids: list[str]
    ) -> set[str]: ...

    async def invitees(self, training_session: str) -> list[Invitee]: ...

    async def invited_since(
        self, stakeholder_ids: list[str], since: dt.datetime
    ) -> dict[str, str]: ...

    async def angle_outcomes(self) -> dict[tuple[str, Angle], Outcomes]:
        """Sent invitations and the registrations they brought, by role and angle, across every
        customer."""
        ...

    async def funnel_invitations(
        self,
        customer_id: str | None,
        sender_email: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> list[FunnelInvitation]:
        """Every invitation draft of the customer (or of the CSM's batches, or of everyone's
        with both None) drafted in [start, end), with how far it went."""
        ...

    async def lock_approvals(self, customer_id: str) -> None:
        """Hold the customer's approvals until the unit of work ends: another approval for
        the same customer waits (a person belongs to one customer)."""
        ...

    async def log(
        self,
        batch_id: uuid.UUID,
        draft_id: uuid.UUID | None,
        action: str,
        actor: str,
        detail: str = "",
    ) -> None: ...

    async def page_for_customer(
        self,
        customer_id: str,
        limit: int,
        after: tuple[dt.datetime, uuid.UUID] | None,
        pending_only: bool,
    ) -> list[uuid.UUID]: ...

    async def show_delivery(
        self, draft_id: uuid.UUID, state: DeliveryState, detail: str, at: dt.datetime
    ) -> None:
        """Show a delivery outcome on an approved draft (no other draft has one), and when it
        was sent."""
        ...


class PlatformRepository(Protocol):
    async def customer(self, customer_id: str) -> Customer | None: ...

    async def customers_of(self, csm_email: str) -> list[NamedCustomer]: ...

    async def stakeholders(self, customer_id: str) -> list[Stakeholder]: ...

    async def usage(
        self, stakeholder_ids: list[str], features: list[str], since: dt.date
    ) -> dict[tuple[str, str], Usage]: ...

    async def stakeholder_ids_by_email(self, email: str) -> list[str]: ...

    async def customers_entitled_to(self, feature: str, among: list[str]) -> list[str]: ...


class BenchmarkRepository(Protocol):
    async def refresh(self, window_days: int, today: dt.date, now: dt.datetime) -> bool: ...

    async def computed_at(self, window_days: int) -> dt.datetime | None: ...

    async def for_roles(
        self, window_days: int, roles: list[str], features: list[str]
    ) -> dict[tuple[str, str], RoleBenchmark]: ...


class HistoryRepository(Protocol):
    async def state(self, stakeholder_id: str, training_session: str) -> str | None:
        """The person's registration state for the session, locked until the transaction
        ends; None when there is none."""
        ...

    async def put(self, record: TrainingRecord) -> None:
        """Store the person's state for the session (the record's `state`)."""
        ...

    async def for_people(self, stakeholder_ids: list[str]) -> list[TrainingRecord]: ...


class SuppressionRepository(Protocol):
    async def add(self, email: str, reason: str) -> None: ...

    async def reasons(self, emails: list[str]) -> dict[str, str]: ...
