"""The dispatcher in memory: its repositories, a provider with one mailbox per sender that
answers as scripted, a quota, and a clock that moves only when told (or when a worker sleeps).

The repositories keep what PostgreSQL would: a copy of each delivery with its lease and claim
token, and they apply the same conditions as the SQL (a claim acts only while current, a paused
batch or mailbox is not claimed, a saved outcome ends the claim), so the handlers see the same
answers as on the real database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from services.common.errors import NotFound
from services.common.unit_of_work import Repository
from services.dispatcher.bootstrap import bootstrap
from services.dispatcher.domain.calendar import (
    Inviter,
    SessionEvent,
    with_attendee,
    without_attendee,
)
from services.dispatcher.domain.contact_budget import OtherInvitation
from services.dispatcher.domain.model import (
    Address,
    ApprovedInvitation,
    Delivery,
    DeliveryState,
    MessagePurpose,
)
from services.dispatcher.domain.tracking import InvitationStatus, Tracking, is_unsubscribe, stage_of
from services.dispatcher.service_layer.dependencies import CalendarSync, Dependencies, Limits
from services.dispatcher.service_layer.ports import Invited, SendControls, SendResult, SentPage
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork
from tests.fakes.unit_of_work import FakeStore, FakeUnitOfWork

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class FixedClock:
    """Stands still until moved; a worker's sleep moves it by as long as it sleeps."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, by: dt.timedelta) -> None:
        self.now += by

    async def sleep(self, seconds: float) -> None:
        self.advance(dt.timedelta(seconds=seconds))


@dataclass
class Row:
    """A delivery as stored, with the lease of the claim on it."""

    delivery: Delivery
    lease_until: dt.datetime | None = None


@dataclass
class SenderControl:
    paused: bool = False
    backoff_until: dt.datetime | None = None
    backoff_level: int = 0


@dataclass
class DispatcherStore(FakeStore):
    clock: FixedClock = field(default_factory=FixedClock)
    rows: dict[uuid.UUID, Row] = field(default_factory=dict)
    suppressions: dict[str, str] = field(default_factory=dict)
    paused_batches: set[str] = field(default_factory=set)
    senders: dict[str, SenderControl] = field(default_factory=dict)
    bounces_read: set[str] = field(default_factory=set)
    tracking: dict[str, Tracking] = field(default_factory=dict)
    # The addresses locked before an attempt was committed, in order.
    contact_locks: list[str] = field(default_factory=list)

    def delivery(self, invitation: str) -> Delivery:
        return next(
            r.delivery for r in self.rows.values() if r.delivery.approved.invitation == invitation
        )

    def row(self, invitation: str) -> Row:
        return next(r for r in self.rows.values() if r.delivery.approved.invitation == invitation)


def _copy(delivery: Delivery) -> Delivery:
    # A copy without the recorded events: what is stored is not the handler's object.
    return dataclasses.replace(delivery)


class FakeDeliveryRepository(Repository):
    def __init__(self, store: DispatcherStore) -> None:
        super().__init__()
        self._store = store

    def _now(self) -> dt.datetime:
        return self._store.clock()

    def _out(self, row: Row) -> Delivery:
        return self.seen(_copy(row.delivery))

    def _current(self, delivery: Delivery) -> Row | None:
        """The stored row if `delivery`'s claim is the current one and it is pending."""
        row = self._store.rows[delivery.id]
        stored = row.delivery
        if stored.claim_token != delivery.claim_token or stored.state is not DeliveryState.PENDING:
            return None
        return row

    async def add(self, delivery: Delivery) -> bool:
        self.seen(delivery)
        invitation = delivery.approved.invitation
        if any(r.delivery.approved.invitation == invitation for r in self._store.rows.values()):
            return False
        self._store.rows[delivery.id] = Row(_copy(delivery))
        return True

    async def claim_due(self, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[Delivery]:
        def due(row: Row) -> bool:
            d = row.delivery
            control = self._store.senders.get(d.approved.sender_email, SenderControl())
            return (
                d.state is DeliveryState.PENDING
                and d.approved.send_after <= now
                and (row.lease_until is None or row.lease_until < now)
                and d.approved.batch not in self._store.paused_batches
                and not control.paused
                and not (control.backoff_until is not None and control.backoff_until > now)
            )

        rows = sorted(
            filter(due, self._store.rows.values()), key=lambda r: r.delivery.approved.send_after
        )
        token = uuid.uuid4()
        for row in rows[:limit]:
            row.lease_until = now + lease
            row.delivery.attempts += 1
            row.delivery.claim_token = token
        return [self._out(r) for r in rows[:limit]]

    async def renew_claim(self, delivery: Delivery, lease: dt.timedelta) -> bool:
        row = self._current(delivery)
        if row is None:
            return False
        row.lease_until = self._now() + lease
        return True

    async def mark_attempt(self, delivery: Delivery, lease: dt.timedelta) -> bool:
        row = self._current(delivery)
        if row is None:
            return False
        stored = row.delivery
        stored.outcome_unknown = True
        stored.attempted_at = delivery.attempted_at
        stored.history_id = stored.history_id or delivery.history_id
        row.lease_until = self._now() + lease
        return True

    async def save(self, delivery: Delivery) -> bool:
        row = self._store.rows[delivery.id]
        if delivery.claim_token is not None and row.delivery.claim_token != delivery.claim_token:
            return False
        stored = row.delivery
        stored.state = delivery.state
        stored.detail = delivery.detail
        stored.provider_message_id = delivery.provider_message_id
        stored.sent_at = delivery.sent_at
        stored.outcome_unknown = delivery.outcome_unknown
        row.lease_until = None
        self.seen(delivery)
        return True

    async def retry_later(self, delivery: Delivery, at: dt.datetime, reason: str) -> None:
        row = self._store.rows[delivery.id]
        if delivery.claim_token is not None and row.delivery.claim_token != delivery.claim_token:
            return
        row.lease_until = at
        row.delivery.detail = reason
        row.delivery.outcome_unknown = delivery.outcome_unknown

    async def controls(
        self, delivery: Delivery, invitations_since: dt.datetime | None = None
    ) -> SendControls:
        a = delivery.approved
        return SendControls(
            suppressed_reason=self._store.suppressions.get(a.recipient_email.lower()),
            batch_paused=a.batch in self._store.paused_batches,
            sender_paused=self._store.senders.get(a.sender_email, SenderControl()).paused,
            other_invitations=(
                ()
                if invitations_since is None
                else self._other_invitations(delivery, invitations_since)
            ),
        )

    def _other_invitations(
        self, delivery: Delivery, since: dt.datetime
    ) -> tuple[OtherInvitation, ...]:
        email = delivery.approved.recipient_email.lower()
        return tuple(
            OtherInvitation(
                d.approved.training_session,
                d.approved.subject,
                d.state,
                d.sent_at,
                d.outcome_unknown,
                d.attempted_at,
                bool(d.approved.contact_budget_override),
            )
            for d in (r.delivery for r in self._store.rows.values())
            if d.approved.recipient_email.lower() == email
            and d.approved.purpose is MessagePurpose.INVITATION
            and d.id != delivery.id
            and (
                (d.sent_at is not None and d.sent_at >= since)
                or (d.attempted_at is not None and d.attempted_at >= since)
            )
        )

    async def lock_contact(self, email: str) -> None:
        # One event loop runs the fakes' units of work: nothing runs between the check and
        # the commit, which is what the lock gives on PostgreSQL.
        self._store.contact_locks.append(email.lower())

    def _sent(self, sender_email: str, since: dt.datetime) -> list[Delivery]:
        return [
            r.delivery
            for r in self._store.rows.values()
            if r.delivery.approved.sender_email == sender_email
            and r.delivery.state is DeliveryState.SENT
            and r.delivery.sent_at is not None
            and r.delivery.sent_at > since
        ]

    async def sent_since(
        self, sender_email: str, since: dt.datetime
    ) -> tuple[int, dt.datetime | None]:
        times = [d.sent_at for d in self._sent(sender_email, since) if d.sent_at is not None]
        return len(times), min(times, default=None)

    async def hold_sender(self, sender_email: str, until: dt.datetime) -> None:
        control = self._store.senders.get(sender_email)
        if control is None:
            self._store.senders[sender_email] = SenderControl(backoff_until=until)
            return
        control.backoff_until = max(control.backoff_until or until, until)
        control.backoff_level += 1

    async def sending_went_well(self, sender_email: str) -> None:
        control = self._store.senders.get(sender_email)
        if control is not None and control.backoff_level > 0:
            control.backoff_level, control.backoff_until = 0, None

    async def known_provider_ids(self, provider_message_ids: list[str]) -> set[str]:
        recorded = {r.delivery.provider_message_id for r in self._store.rows.values()}
        return recorded & set(provider_message_ids)

    async def by_message_id(self, message_id: str) -> Delivery | None:
        row = next(
            (r for r in self._store.rows.values() if r.delivery.message_id == message_id), None
        )
        return None if row is None else self._out(row)

    async def first_bounce(self, provider_message_id: str) -> bool:
        if provider_message_id in self._store.bounces_read:
            return False
        self._store.bounces_read.add(provider_message_id)
        return True

    async def recent_senders(self, since: dt.datetime) -> list[str]:
        senders = {r.delivery.approved.sender_email for r in self._store.rows.values()}
        return sorted(s for s in senders if self._sent(s, since))

    async def has_invited(self, sender_email: str, recipient_email: str) -> bool:
        return any(
            r.delivery.approved.sender_email.lower() == sender_email.lower()
            and r.delivery.approved.recipient_email.lower() == recipient_email.lower()
            for r in self._store.rows.values()
        )

    async def for_batch(self, batch: str) -> list[Delivery]:
        return [
            self._out(r) for r in self._store.rows.values() if r.delivery.approved.batch == batch
        ]

    async def unsent_for_update(self, batch: str) -> list[Delivery]:
        now = self._now()
        return [
            self._out(r)
            for r in self._store.rows.values()
            if r.delivery.approved.batch == batch
            and r.delivery.unsent
            and (r.lease_until is None or r.lease_until < now)
        ]

    async def batch_paused(self, batch: str) -> bool:
        return batch in self._store.paused_batches

    async def set_batch_paused(self, batch: str, paused: bool, by: str) -> None:
        if paused:
            self._store.paused_batches.add(batch)
        else:
            self._store.paused_batches.discard(batch)

    async def set_sender_paused(self, sender_email: str, paused: bool, by: str) -> None:
        self._store.senders.setdefault(sender_email, SenderControl()).paused = paused

    async def sender_control(self, sender_email: str) -> tuple[bool, dt.datetime | None]:
        control = self._store.senders.get(sender_email, SenderControl())
        return control.paused, control.backoff_until


class FakeAddressRepository(Repository):
    def __init__(self, store: DispatcherStore) -> None:
        super().__init__()
        self._store = store

    async def get(self, email: str) -> Address:
        return self.seen(Address(email, self._store.suppressions.get(email.lower())))

    async def save(self, address: Address) -> None:
        self.seen(address)
        if address.suppressed_reason is not None:
            self._store.suppressions.setdefault(address.email, address.suppressed_reason)


class FakeTrackingRepository(Repository):
    """Tracking kept as copies in the store; the views read the deliveries beside it."""

    def __init__(self, store: DispatcherStore) -> None:
        super().__init__()
        self._store = store

    def _deliveries(self) -> list[Delivery]:
        return [r.delivery for r in self._store.rows.values()]

    async def invited(self, invitations: list[str], people: list[tuple[str, str]]) -> list[Invited]:
        wanted = set(people)
        found = [
            Invited(
                d.approved.invitation,
                d.approved.training_session,
                d.approved.recipient_email.lower(),
            )
            for d in self._deliveries()
            if d.approved.invitation in invitations
            or (
                (d.approved.training_session, d.approved.recipient_email.lower()) in wanted
                and d.approved.purpose is MessagePurpose.INVITATION
            )
        ]
        return sorted(found, key=lambda i: i.invitation)

    async def get_many(self, invitations: list[str]) -> dict[str, Tracking]:
        return {
            i: dataclasses.replace(self._store.tracking[i])
            for i in invitations
            if i in self._store.tracking
        }

    async def save_many(self, trackings: list[Tracking]) -> None:
        for t in trackings:
            self._store.tracking[t.invitation] = dataclasses.replace(t)

    def _status(self, d: Delivery) -> InvitationStatus:
        a = d.approved
        t = self._store.tracking.get(a.invitation)
        return InvitationStatus(
            invitation=a.invitation,
            recipient_email=a.recipient_email,
            training_session=a.training_session,
            customer_id=a.customer_id,
            delivery_state=d.state.value,
            stage=stage_of(d.state is DeliveryState.SENT, t),
            waitlist_position=t.waitlist_position if t else 0,
            minutes_attended=t.minutes_attended if t else 0,
            unsubscribed=is_unsubscribe(self._store.suppressions.get(a.recipient_email.lower())),
            updated_at=t.updated_at if t else d.sent_at,
        )

    async def of_batch(self, batch: str) -> list[tuple[str, InvitationStatus]]:
        return [
            (d.approved.sender_email, self._status(d))
            for d in self._deliveries()
            if d.approved.batch == batch
        ]

    async def of_session(self, training_session: str, sender_email: str) -> list[InvitationStatus]:
        return [
            self._status(d)
            for d in self._deliveries()
            if d.approved.training_session == training_session
            and d.approved.sender_email.lower() == sender_email.lower()
            and d.approved.purpose is MessagePurpose.INVITATION
        ]


class FakeDispatcherUnitOfWork(FakeUnitOfWork, DispatcherUnitOfWork):
    deliveries: FakeDeliveryRepository
    addresses: FakeAddressRepository
    tracking: FakeTrackingRepository

    def __init__(self, store: DispatcherStore) -> None:
        super().__init__(store)
        self.deliveries = FakeDeliveryRepository(store)
        self.addresses = FakeAddressRepository(store)
        self.tracking = FakeTrackingRepository(store)

    def repositories(self) -> list[Repository]:
        return [self.deliveries, self.addresses, self.tracking]


@dataclass(frozen=True)
class Answer:
    """How the provider answers one send: whether it took the message, and what it raises."""

    accepted: bool = True
    error: BaseException | None = None


ACCEPT = Answer()


def refuse(error: BaseException) -> Answer:
    return Answer(accepted=False, error=error)


def accept_then(error: BaseException) -> Answer:
    """The message is in the mailbox, but the answer says otherwise (a 5xx, a timeout)."""
    return Answer(accepted=True, error=error)


@dataclass(frozen=True)
class Stored:
    provider_id: str
    sender: str
    message_id: str
    to: str


class FakeProvider:
    """The mailboxes as the provider keeps them, one list for every sender, oldest first."""

    def __init__(self) -> None:
        self.messages: list[Stored] = []

    def take(self, message: EmailMessage) -> str:
        provider_id = f"m{len(self.messages) + 1}"
        self.messages.append(
            Stored(
                provider_id, str(message["From"]), str(message["Message-ID"]), str(message["To"])
            )
        )
        return provider_id

    def find(self, sender: str, message_id: str) -> str | None:
        return next(
            (
                m.provider_id
                for m in self.messages
                if m.sender == sender and m.message_id == message_id
            ),
            None,
        )

    def to(self, recipient: str) -> list[Stored]:
        return [m for m in self.messages if m.to == recipient]


class FakeMailSender:
    """Answers each send as scripted (then accepts), each lookup as scripted (then truthfully)."""

    def __init__(
        self,
        provider: FakeProvider,
        answers: list[Answer] | None = None,
        lookup_failures: list[Exception] | None = None,
    ) -> None:
        self.provider = provider
        self.answers = list(answers or [])
        self.lookup_failures = list(lookup_failures or [])
        self.sends = 0
        self.lookups = 0

    async def send(self, message: EmailMessage) -> SendResult:
        self.sends += 1
        answer = self.answers.pop(0) if self.answers else ACCEPT
        provider_id = self.provider.take(message) if answer.accepted else ""
        if answer.error is not None:
            raise answer.error
        return SendResult(provider_id)

    async def find(self, sender: str, message_id: str) -> str | None:
        self.lookups += 1
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        return self.provider.find(sender, message_id)


class FakeMailboxHistory:
    """The provider's history: a position is the number of messages stored so far."""

    def __init__(
        self,
        provider: FakeProvider,
        page_size: int = 2,
        on_position: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.provider = provider
        self.page_size = page_size
        self.on_position = on_position
        self.reads = 0

    async def position(self, mailbox: str) -> str:
        if self.on_position is not None:
            await self.on_position()
        return str(len(self.provider.messages))

    async def sent_since(self, mailbox: str, position: str, page: str | None) -> SentPage:
        self.reads += 1
        start = int(page or position)
        ids = [m.provider_id for m in self.provider.messages[start:] if m.sender == mailbox]
        later = start + self.page_size
        return SentPage(
            ids[: self.page_size], str(later) if later < len(self.provider.messages) else None
        )

    async def message_id(self, mailbox: str, provider_message_id: str) -> str | None:
        return next(
            (m.message_id for m in self.provider.messages if m.provider_id == provider_message_id),
            None,
        )


class FakeQuota:
    """Room at once unless a wait is scripted; a pause lasts what the provider asked, else 30 s."""

    def __init__(self, clock: FixedClock, waits: list[dt.timedelta] | None = None) -> None:
        self.clock = clock
        self.waits = list(waits or [])
        self.spent: list[tuple[str, int]] = []
        self.pauses: list[tuple[str, dt.datetime]] = []
        self.went_well_count = 0

    async def try_spend(self, mailbox: str, units: int) -> dt.timedelta | None:
        if self.waits:
            return self.waits.pop(0)
        self.spent.append((mailbox, units))
        return None

    async def spend(self, mailbox: str, units: int) -> None:
        self.spent.append((mailbox, units))

    async def pause(self, mailbox: str, retry_after: dt.timedelta | None) -> dt.datetime:
        until = self.clock() + (retry_after or dt.timedelta(seconds=30))
        self.pauses.append((mailbox, until))
        return until

    async def went_well(self, mailbox: str) -> None:
        self.went_well_count += 1


def build_message(delivery: Delivery) -> EmailMessage:
    a = delivery.approved
    message = EmailMessage()
    message["Message-ID"] = delivery.message_id
    message["From"] = a.sender_email
    message["To"] = a.recipient_email
    message["Subject"] = a.subject
    message.set_content(a.text_body)
    return message


class FakeBounces:
    def __init__(self) -> None:
        self.reports: dict[str, list[tuple[str, bytes]]] = {}

    async def recent(self, mailbox: str, days: int = 7) -> list[tuple[str, bytes]]:
        return list(self.reports.get(mailbox, []))


SENDER = "alex.rivera@trainvite.dev"
BATCH = "customers/northwind/invitation-batches/0b6f3c1e-4d4f-4a53-9d55-0a4f1f1d2c3b"


def approved(
    n: int = 1,
    recipient: str | None = None,
    sender: str = SENDER,
    batch: str = BATCH,
    send_after: dt.datetime = T0,
    purpose: MessagePurpose = MessagePurpose.INVITATION,
    training_session: str = "sessions/analytics-101",
    contact_budget_override: str = "",
) -> ApprovedInvitation:
    """The n-th approved invitation (or notice, or confirmation) of a batch."""
    return ApprovedInvitation(
        invitation=f"{batch}/drafts/{uuid.UUID(int=n)}",
        batch=batch,
        customer_id=batch.split("/")[1],
        training_session=training_session,
        recipient_email=recipient or f"person{n}@northwind.example",
        recipient_name=f"Person {n}",
        sender_email=sender,
        sender_name="Alex Rivera",
        subject="Advanced Analytics, next Tuesday",
        text_body="Hello, see you there.",
        html_body="<p>Hello, see you there.</p>",
        calendar_ics="",
        content_sha256="0" * 64,
        approved_by=sender,
        approved_at=send_after,
        send_after=send_after,
        purpose=purpose,
        contact_budget_override=contact_budget_override,
    )


@dataclass
class CalendarEntry:
    """A session's event in one organizer's calendar."""

    event: SessionEvent
    attendees: list[str]


class FakeCalendar:
    """Each organizer's calendar in memory; the errors in `failures` are raised, one per
    call, before anything else happens."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], CalendarEntry] = {}
        self.failures: list[Exception] = []
        # (add, remove, move or cancel; organizer; event id; email, or "" for the whole
        # event) of every call that got through.
        self.calls: list[tuple[str, str, str, str]] = []
        self.writes = 0

    def attendees(self, organizer: str, event_id: str) -> list[str] | None:
        entry = self.entries.get((organizer, event_id))
        return None if entry is None else list(entry.attendees)

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def add_attendee(self, organizer: str, event: SessionEvent, email: str) -> bool:
        self._fail()
        self.calls.append(("add", organizer, event.event_id, email))
        entry = self.entries.get((organizer, event.event_id))
        if entry is None:
            self.entries[(organizer, event.event_id)] = CalendarEntry(event, [email])
            self.writes += 1
            return True
        changed = with_attendee(entry.attendees, email)
        if changed is None:
            return False
        entry.attendees = changed
        self.writes += 1
        return True

    async def remove_attendee(self, organizer: str, event_id: str, email: str) -> bool:
        self._fail()
        self.calls.append(("remove", organizer, event_id, email))
        entry = self.entries.get((organizer, event_id))
        changed = None if entry is None else without_attendee(entry.attendees, email)
        if entry is None or changed is None:
            return False
        entry.attendees = changed
        self.writes += 1
        return True

    async def move_event(self, organizer: str, event: SessionEvent) -> bool:
        self._fail()
        self.calls.append(("move", organizer, event.event_id, ""))
        entry = self.entries.get((organizer, event.event_id))
        if entry is None or entry.event.cancelled:
            return False
        entry.event = event
        self.writes += 1
        return True

    async def cancel_event(self, organizer: str, event_id: str) -> bool:
        self._fail()
        self.calls.append(("cancel", organizer, event_id, ""))
        entry = self.entries.get((organizer, event_id))
        if entry is None or entry.event.cancelled:
            return False
        entry.event = dataclasses.replace(entry.event, cancelled=True)
        self.writes += 1
        return True


class FakeSessions:
    """The catalog's sessions, as their calendar events."""

    def __init__(self) -> None:
        self.sessions: dict[str, SessionEvent] = {}
        self.reads = 0

    async def session_event(self, training_session: str) -> SessionEvent:
        self.reads += 1
        if training_session not in self.sessions:
            raise NotFound(f"{training_session} not found")
        return self.sessions[training_session]


class FakeInviters:
    """Who sent each invitation, read from the stored deliveries as the SQL does."""

    def __init__(self, store: DispatcherStore) -> None:
        self._store = store

    async def of(self, invitation: str) -> Inviter | None:
        for row in self._store.rows.values():
            a = row.delivery.approved
            if a.invitation == invitation:
                return Inviter(a.sender_email, a.training_session)
        return None

    async def organizers(self, training_session: str) -> list[str]:
        # One address per mailbox, the first in order, as DISTINCT ON keeps it.
        kept: dict[str, str] = {}
        for mailbox, sender in sorted(
            (a.sender_email.lower(), a.sender_email)
            for a in (row.delivery.approved for row in self._store.rows.values())
            if a.training_session == training_session and a.purpose is MessagePurpose.INVITATION
        ):
            kept.setdefault(mailbox, sender)
        return list(kept.values())


@dataclass
class FakeDispatcher:
    """The dispatcher's use cases wired through `bootstrap` to the fakes above."""

    deps: Dependencies
    store: DispatcherStore
    clock: FixedClock
    provider: FakeProvider
    sender: FakeMailSender
    history: FakeMailboxHistory | None
    quota: FakeQuota
    bounces: FakeBounces
    calendar: FakeCalendar | None = None
    sessions: FakeSessions | None = None

    def uow(self) -> FakeDispatcherUnitOfWork:
        return FakeDispatcherUnitOfWork(self.store)

    async def add(self, invitation: ApprovedInvitation) -> Delivery:
        """Store a delivery as an approval would."""
        async with self.uow() as uow:
            assert await uow.deliveries.add(Delivery.accept(invitation, uuid.uuid4()))
            await uow.commit()
        return self.store.delivery(invitation.invitation)


def fake_dispatcher(
    answers: list[Answer] | None = None,
    lookup_failures: list[Exception] | None = None,
    quota_waits: list[dt.timedelta] | None = None,
    with_history: bool = False,
    limits: Limits | None = None,
    with_calendar: bool = False,
) -> FakeDispatcher:
    clock = FixedClock()
    store = DispatcherStore(clock=clock)
    provider = FakeProvider()
    sender = FakeMailSender(provider, answers, lookup_failures)
    history = FakeMailboxHistory(provider) if with_history else None
    quota = FakeQuota(clock, quota_waits)
    bounces = FakeBounces()
    calendar = FakeCalendar() if with_calendar else None
    sessions = FakeSessions() if with_calendar else None
    calendar_sync = (
        CalendarSync(calendar, sessions, FakeInviters(store))
        if calendar is not None and sessions is not None
        else None
    )
    deps = bootstrap(
        uow=lambda: FakeDispatcherUnitOfWork(store),
        sender=sender,
        build_message=build_message,
        quota=quota,
        unsubscribe_key="unsubscribe-test-key",
        clock=clock,
        limits=limits or Limits(),
        bounces=bounces,
        history=history,
        sleep=clock.sleep,
        calendar_sync=calendar_sync,
    )
    return FakeDispatcher(
        deps, store, clock, provider, sender, history, quota, bounces, calendar, sessions
    )
