"""The personalizer's repositories, unit of work, catalog and renderer in memory, for the
handler unit tests.

The repositories keep what the SQL ones keep and answer the same questions, ordered the same
way. A read hands out a copy, as a database would, so a handler that changes a batch and does
not save it changes nothing. The renderer is the real one (the angle and notice templates are
plain files); only a CSM's own templates render in-process instead of in worker processes.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from services.common.clock import Clock
from services.common.errors import FailedPrecondition, NotFound
from services.common.unit_of_work import Repository
from services.personalizer.adapters import email_html
from services.personalizer.adapters.rendering import InvitationRenderer
from services.personalizer.bootstrap import bootstrap
from services.personalizer.domain.customer_names import NamedCustomer
from services.personalizer.domain.funnel import Invitation as FunnelInvitation
from services.personalizer.domain.gaps import RoleBenchmark, Usage
from services.personalizer.domain.learning import Outcomes
from services.personalizer.domain.model import (
    Angle,
    Customer,
    DeliveryState,
    DraftState,
    InvitationBatch,
    Invitee,
    Purpose,
    SessionInfo,
    Stakeholder,
    TrainingRecord,
)
from services.personalizer.service_layer.dependencies import Dependencies, Policy
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork
from tests.fakes.unit_of_work import FakeStore, FakeUnitOfWork


@dataclass(frozen=True)
class Change:
    """A row of the batch's audit log."""

    batch_id: uuid.UUID
    draft_id: uuid.UUID | None
    action: str
    actor: str
    detail: str


@dataclass
class PersonalizerStore(FakeStore):
    """The personalizer's tables and the platform's it reads."""

    customers: dict[str, Customer] = field(default_factory=dict)
    stakeholders: list[Stakeholder] = field(default_factory=list)
    # (stakeholder, feature) -> usage within any window asked about.
    usage: dict[tuple[str, str], Usage] = field(default_factory=dict)
    benchmarks: dict[tuple[str, str], RoleBenchmark] = field(default_factory=dict)
    benchmarks_computed_at: dt.datetime | None = None
    batches: dict[uuid.UUID, InvitationBatch] = field(default_factory=dict)
    request_ids: dict[uuid.UUID, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    history: dict[tuple[str, str], TrainingRecord] = field(default_factory=dict)
    suppressed: dict[str, str] = field(default_factory=dict)

    def batch(self, batch_id: uuid.UUID) -> InvitationBatch:
        """The stored batch, to look at (not to change)."""
        return self.batches[batch_id]


def _copy(batch: InvitationBatch) -> InvitationBatch:
    """What storing and reading back gives: the same state, no pending events."""
    stored = copy.deepcopy(batch)
    stored.collect_events()
    return stored


class FakeBatchRepository(Repository):
    def __init__(self, store: PersonalizerStore) -> None:
        super().__init__()
        self._store = store

    async def add(self, batch: InvitationBatch, request_id: str | None) -> bool:
        if await self.id_for(batch.customer_id, request_id, batch.source_event_id) is not None:
            return False
        self._store.batches[batch.id] = _copy(batch)
        if request_id is not None:
            self._store.request_ids[batch.id] = request_id
        self.seen(batch)
        return True

    async def id_for(
        self, customer_id: str, request_id: str | None, source_event_id: uuid.UUID | None
    ) -> uuid.UUID | None:
        for b in self._store.batches.values():
            if b.customer_id != customer_id:
                continue
            if request_id is not None and self._store.request_ids.get(b.id) == request_id:
                return b.id
            if source_event_id is not None and b.source_event_id == source_event_id:
                return b.id
        return None

    async def get(
        self, customer_id: str, batch_id: uuid.UUID, for_update: bool = False
    ) -> InvitationBatch | None:
        stored = self._store.batches.get(batch_id)
        if stored is None or stored.customer_id != customer_id:
            return None
        return self.seen(_copy(stored))

    async def save(self, batch: InvitationBatch) -> None:
        assert batch.id in self._store.batches, "save() is for stored batches; add() new ones"
        taken = {
            (b.session.name, b.drafts[i].recipient.stakeholder_id)
            for b, i in self._approved_invitations()
            if b.id != batch.id
        }
        if batch.purpose is Purpose.INVITATION and any(
            d.state is DraftState.APPROVED
            and (batch.session.name, d.recipient.stakeholder_id) in taken
            for d in batch.drafts
        ):
            raise FailedPrecondition(
                "someone in this batch already has an approved invitation to this session"
            )
        self._store.batches[batch.id] = _copy(batch)
        self.seen(batch)

    def _approved_invitations(self) -> list[tuple[InvitationBatch, int]]:
        return [
            (b, position)
            for b in self._store.batches.values()
            if b.purpose is Purpose.INVITATION
            for position, d in enumerate(b.drafts)
            if d.state is DraftState.APPROVED
        ]

    async def invited_stakeholders(
        self, training_session: str, stakeholder_ids: list[str]
    ) -> set[str]:
        return {
            b.drafts[i].recipient.stakeholder_id
            for b, i in self._approved_invitations()
            if b.session.name == training_session
            and b.drafts[i].recipient.stakeholder_id in stakeholder_ids
        }

    async def invitees(self, training_session: str) -> list[Invitee]:
        found = sorted(
            (
                (b.customer_id, i, b)
                for b, i in self._approved_invitations()
                if b.session.name == training_session
            ),
            key=lambda t: (t[0], t[1]),
        )
        return [
            Invitee(c, b.drafts[i].recipient, b.drafts[i].angle, b.drafts[i].registration_url)
            for c, i, b in found
        ]

    async def invited_since(self, stakeholder_ids: list[str], since: dt.datetime) -> dict[str, str]:
        latest: dict[str, tuple[dt.datetime, str]] = {}
        for b, i in self._approved_invitations():
            person = b.drafts[i].recipient.stakeholder_id
            at = b.approved_at
            if person not in stakeholder_ids or at is None or at < since:
                continue
            if person not in latest or at > latest[person][0]:
                latest[person] = (at, b.session.title)
        return {p: f"{title} (approved {at:%b} {at.day})" for p, (at, title) in latest.items()}

    async def angle_outcomes(self) -> dict[tuple[str, Angle], Outcomes]:
        found: dict[tuple[str, Angle], Outcomes] = {}
        for b in self._store.batches.values():
            for d in b.drafts:
                sent = d.delivery_state is DeliveryState.SENT
                if b.purpose is not Purpose.INVITATION or not sent:
                    continue
                record = self._store.history.get((d.recipient.stakeholder_id, b.session.name))
                seated = ("registered", "attended", "no_show")
                took_seat = record is not None and record.state in seated
                key = (d.recipient.role, d.angle)
                found[key] = found.get(key, Outcomes()) + Outcomes(1, int(took_seat))
        return found

    async def funnel_invitations(
        self,
        customer_id: str | None,
        sender_email: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> list[FunnelInvitation]:
        found = []
        for b in self._store.batches.values():
            if b.purpose is not Purpose.INVITATION:
                continue
            if customer_id is not None and b.customer_id != customer_id:
                continue
            if sender_email is not None and b.sender.email.lower() != sender_email.lower():
                continue
            if (start is not None and b.created_at < start) or (
                end is not None and b.created_at >= end
            ):
                continue
            for d in b.drafts:
                record = self._store.history.get((d.recipient.stakeholder_id, b.session.name))
                found.append(
                    FunnelInvitation(
                        angle=d.angle.value,
                        role=d.recipient.role,
                        template_version=d.template_version,
                        time_zone=d.recipient.time_zone,
                        session_start=b.session.start_time,
                        approved=d.state is DraftState.APPROVED,
                        sent=d.delivery_state is DeliveryState.SENT,
                        sent_at=d.sent_at,
                        registration=record.state if record else "",
                    )
                )
        return found

    async def lock_approvals(self, customer_id: str) -> None:
        """One unit of work runs at a time here: nothing to wait for."""

    async def log(
        self,
        batch_id: uuid.UUID,
        draft_id: uuid.UUID | None,
        action: str,
        actor: str,
        detail: str = "",
    ) -> None:
        self._store.changes.append(Change(batch_id, draft_id, action, actor, detail))

    async def page_for_customer(
        self,
        customer_id: str,
        limit: int,
        after: tuple[dt.datetime, uuid.UUID] | None,
        pending_only: bool,
    ) -> list[uuid.UUID]:
        found = sorted(
            (
                (b.created_at, b.id)
                for b in self._store.batches.values()
                if b.customer_id == customer_id
                and (not pending_only or b.state.value == "pending_review")
                and (after is None or (b.created_at, b.id) < after)
            ),
            reverse=True,
        )
        return [i for _, i in found[:limit]]

    async def show_delivery(
        self, draft_id: uuid.UUID, state: DeliveryState, detail: str, at: dt.datetime
    ) -> None:
        for b in self._store.batches.values():
            for d in b.drafts:
                if d.id == draft_id and d.state is DraftState.APPROVED:
                    d.delivery_state = state
                    d.delivery_detail = detail
                    if state is DeliveryState.SENT:
                        d.sent_at = at


class FakePlatformRepository(Repository):
    def __init__(self, store: PersonalizerStore) -> None:
        super().__init__()
        self._store = store

    async def customer(self, customer_id: str) -> Customer | None:
        return self._store.customers.get(customer_id)

    async def customers_of(self, csm_email: str) -> list[NamedCustomer]:
        return sorted(
            (
                NamedCustomer(c.id, c.display_name)
                for c in self._store.customers.values()
                if c.csm_email.lower() == csm_email.lower()
            ),
            key=lambda c: (c.display_name, c.id),
        )

    async def stakeholders(self, customer_id: str) -> list[Stakeholder]:
        return sorted(
            (s for s in self._store.stakeholders if s.customer_id == customer_id),
            key=lambda s: (s.display_name, s.id),
        )

    async def usage(
        self, stakeholder_ids: list[str], features: list[str], since: dt.date
    ) -> dict[tuple[str, str], Usage]:
        return {
            (p, f): u
            for (p, f), u in self._store.usage.items()
            if p in stakeholder_ids and f in features
        }

    async def stakeholder_ids_by_email(self, email: str) -> list[str]:
        return [
            s.id
            for s in self._store.stakeholders
            if s.email is not None and s.email.lower() == email.lower()
        ]

    async def customers_entitled_to(self, feature: str, among: list[str]) -> list[str]:
        return sorted(
            c.id
            for c in self._store.customers.values()
            if feature in c.entitlements and (not among or c.id in among)
        )


class FakeBenchmarkRepository(Repository):
    def __init__(self, store: PersonalizerStore) -> None:
        super().__init__()
        self._store = store

    async def refresh(self, window_days: int, today: dt.date, now: dt.datetime) -> bool:
        self._store.benchmarks_computed_at = now
        return True

    async def computed_at(self, window_days: int) -> dt.datetime | None:
        return self._store.benchmarks_computed_at

    async def for_roles(
        self, window_days: int, roles: list[str], features: list[str]
    ) -> dict[tuple[str, str], RoleBenchmark]:
        return {
            (r, f): b
            for (r, f), b in self._store.benchmarks.items()
            if r in roles and f in features
        }


class FakeHistoryRepository(Repository):
    def __init__(self, store: PersonalizerStore) -> None:
        super().__init__()
        self._store = store

    async def state(self, stakeholder_id: str, training_session: str) -> str | None:
        record = self._store.history.get((stakeholder_id, training_session))
        return None if record is None else record.state

    async def put(self, record: TrainingRecord) -> None:
        key = (record.stakeholder_id, record.training_session)
        known = self._store.history.get(key)
        self._store.history[key] = record if known is None else replace(known, state=record.state)

    async def for_people(self, stakeholder_ids: list[str]) -> list[TrainingRecord]:
        return [
            r
            for r in self._store.history.values()
            if r.stakeholder_id in stakeholder_ids and r.state in ("registered", "attended")
        ]


class FakeSuppressionRepository(Repository):
    def __init__(self, store: PersonalizerStore) -> None:
        super().__init__()
        self._store = store

    async def add(self, email: str, reason: str) -> None:
        self._store.suppressed.setdefault(email.lower(), reason)

    async def reasons(self, emails: list[str]) -> dict[str, str]:
        wanted = {e.lower() for e in emails}
        return {e: r for e, r in self._store.suppressed.items() if e in wanted}


class FakePersonalizerUnitOfWork(FakeUnitOfWork, PersonalizerUnitOfWork):
    store: PersonalizerStore

    def __init__(self, store: PersonalizerStore) -> None:
        super().__init__(store)
        batches = FakeBatchRepository(store)
        platform = FakePlatformRepository(store)
        benchmarks = FakeBenchmarkRepository(store)
        history = FakeHistoryRepository(store)
        suppressions = FakeSuppressionRepository(store)
        self.batches = batches
        self.platform = platform
        self.benchmarks = benchmarks
        self.history = history
        self.suppressions = suppressions
        self._repositories: list[Repository] = [
            batches,
            platform,
            benchmarks,
            history,
            suppressions,
        ]

    def repositories(self) -> list[Repository]:
        return self._repositories


class FakeCatalog:
    """The catalog's sessions, answered as the catalog client answers."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.sessions: dict[str, SessionInfo] = {}
        self.cancelled: set[str] = set()

    def add(self, session: SessionInfo) -> SessionInfo:
        self.sessions[session.name] = session
        return session

    async def get(self, name: str, allow_cancelled: bool = False) -> SessionInfo:
        session = self.sessions.get(name)
        if session is None:
            raise NotFound(f"{name} does not exist")
        if name in self.cancelled and not allow_cancelled:
            raise FailedPrecondition(f"{name} is cancelled")
        return session

    def _upcoming(self) -> list[SessionInfo]:
        now = self._clock()
        return sorted(
            (
                s
                for s in self.sessions.values()
                if s.start_time > now and s.name not in self.cancelled
            ),
            key=lambda s: (s.start_time, s.name),
        )

    async def best_match(self, topic: str) -> SessionInfo:
        words = topic.lower().split()
        for s in self._upcoming():
            if any(w in f"{s.title} {s.topic}".lower() for w in words):
                return s
        raise NotFound(f"no upcoming training session matches {topic!r}")

    async def alternatives(self, name: str, limit: int = 3) -> list[SessionInfo]:
        session = await self.get(name, allow_cancelled=True)
        return [
            s
            for s in self._upcoming()
            if s.name != name and set(s.features) & set(session.features)
        ][:limit]

    async def upcoming(
        self, feature: str = "", level: str = "", limit: int = 3
    ) -> list[SessionInfo]:
        return [
            s
            for s in self._upcoming()
            if (not feature or feature in s.features) and (not level or s.level == level)
        ][:limit]


class FakeRenderer(InvitationRenderer):
    """The real renderer; a CSM's own templates render in a sandboxed Jinja2 environment in
    this process, where the service uses worker processes with limits."""

    _own = SandboxedEnvironment(autoescape=False)

    async def render_own(
        self, subject_template: str, body_template: str, context: dict[str, Any]
    ) -> tuple[str, str, str]:
        subject = " ".join(self._own.from_string(subject_template).render(context).split())
        text = self._own.from_string(body_template).render(context).strip() + "\n"
        return subject, text, email_html.from_text(text, str(context.get("registration_url", "")))


# One renderer for every test: its templates are compiled once.
RENDERER = FakeRenderer()


@dataclass
class FakePersonalizer:
    """The handlers' dependencies over fakes, and the fakes to arrange and inspect."""

    deps: Dependencies
    store: PersonalizerStore
    catalog: FakeCatalog


def fake_personalizer(clock: Clock, policy: Policy | None = None) -> FakePersonalizer:
    store = PersonalizerStore()
    catalog = FakeCatalog(clock)
    deps = bootstrap(
        uow=lambda: FakePersonalizerUnitOfWork(store),
        catalog=catalog,
        renderer=RENDERER,
        clock=clock,
        policy=policy,
    )
    return FakePersonalizer(deps, store, catalog)
