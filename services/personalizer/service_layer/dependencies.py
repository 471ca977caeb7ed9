"""What the personalizer's use cases need from the outside, as parameters."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.common.auth import Principal
from services.common.errors import NotFound
from services.common.outbox import OutboxMessage
from services.personalizer.domain.model import (
    Angle,
    Content,
    Customer,
    InvitationApproved,
    InvitationBatch,
    Notice,
    Recipient,
    SessionInfo,
)
from services.personalizer.domain.selection import Assessment
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork


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
        draft_id: uuid.UUID,
        now: dt.datetime,
        alternatives: tuple[SessionInfo, ...] = (),
    ) -> tuple[Content, str, dict[str, Any]]: ...

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


@dataclass(frozen=True)
class Policy:
    """The personalizer's tunable rules (from settings)."""

    # Windows (days) whose role benchmarks are precomputed; GetTrainingGaps accepts these.
    benchmark_windows: tuple[int, ...] = (7, 30, 90)
    default_window_days: int = 30
    # No second training invitation to the same person within this many days.
    frequency_cap_days: int = 14
    # Training attended within this many days closes the gap on its features.
    training_counts_days: int = 180


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], PersonalizerUnitOfWork]
    catalog: SessionSource
    renderer: Renderer
    encode_approved: Callable[[InvitationApproved], OutboxMessage]
    encode_drafts_ready: Callable[[InvitationBatch, str], OutboxMessage]
    clock: Callable[[], dt.datetime]
    policy: Policy = Policy()


async def customer_for(
    uow: PersonalizerUnitOfWork, customer_id: str, principal: Principal | None
) -> Customer:
    """The customer, if it exists and the caller (None: the system itself) may act on it."""
    customer = await uow.platform.customer(customer_id)
    # Another CSM's customer answers exactly like one that does not exist: a CSM must not learn
    # which customers exist, let alone anything of them.
    if customer is None or (
        principal is not None and not principal.may_act_for(customer.csm_email)
    ):
        raise NotFound(f"customers/{customer_id} does not exist")
    return customer
