"""What the dispatcher's use cases need from the outside world, as Protocols: the adapters
implement them for PostgreSQL, Gmail, SMTP and the local outbox, and tests/fakes in memory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from typing import NamedTuple, Protocol

from services.dispatcher.domain.calendar import Inviter, SessionEvent
from services.dispatcher.domain.contact_budget import OtherInvitation
from services.dispatcher.domain.model import Address, Delivery
from services.dispatcher.domain.tracking import InvitationStatus, Tracking


@dataclass(frozen=True)
class SendControls:
    """What may hold a claimed delivery back at send time."""

    suppressed_reason: str | None = None
    batch_paused: bool = False
    sender_paused: bool = False
    # The other invitations to the same address sent or attempted within the frequency cap's
    # window, when asked for: the contact budget decides which of them count.
    other_invitations: tuple[OtherInvitation, ...] = ()


class DeliveryRepository(Protocol):
    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery; False when its invitation has one already."""
        ...

    async def claim_due(self, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[Delivery]:
        """Take up to `limit` pending deliveries that are due, whose batch and sender are not
        paused and whose mailbox is not resting, for `lease`, under one new claim token. A
        delivery claimed before is taken over once its lease has run out."""
        ...

    async def renew_claim(self, delivery: Delivery, lease: dt.timedelta) -> bool:
        """Extend the claim; False when it is no longer the current one (or the delivery no
        longer pending): then someone else acts on the delivery."""
        ...

    async def mark_attempt(self, delivery: Delivery, lease: dt.timedelta) -> bool:
        """Store the begun attempt (outcome unknown, its time and history position) and extend
        the claim; False, with nothing written, when the claim is not the current one."""
        ...

    async def save(self, delivery: Delivery) -> bool:
        """Store the delivery's state and end its claim, unless another claim holds it now;
        True when stored."""
        ...

    async def retry_later(self, delivery: Delivery, at: dt.datetime, reason: str) -> None:
        """Leave the delivery pending, not to be claimed before `at`, its outcome as it is."""
        ...

    async def controls(
        self, delivery: Delivery, invitations_since: dt.datetime | None = None
    ) -> SendControls:
        """Whether its address is suppressed, its batch or its sender paused; with
        `invitations_since`, also the other invitation deliveries to its address (any case)
        sent or attempted since then."""
        ...

    async def lock_contact(self, email: str) -> None:
        """Hold the address (any case) until the end of the unit of work: of two sends to one
        person checked at once, the second reads the controls once the first's attempt is
        committed."""
        ...

    async def sent_since(
        self, sender_email: str, since: dt.datetime
    ) -> tuple[int, dt.datetime | None]:
        """How many messages the sender sent since then, and the oldest of them."""
        ...

    async def hold_sender(self, sender_email: str, until: dt.datetime) -> None:
        """Claim nothing of the sender's before `until`: its mailbox rests after a rate-limit
        answer."""
        ...

    async def sending_went_well(self, sender_email: str) -> None:
        """A send went through: the sender's backoff starts afresh."""
        ...

    async def known_provider_ids(self, provider_message_ids: list[str]) -> set[str]:
        """Which of these provider ids deliveries already recorded as theirs."""
        ...

    async def by_message_id(self, message_id: str) -> Delivery | None:
        """The delivery of a Message-ID, locked until the end of the unit of work."""
        ...

    async def first_bounce(self, provider_message_id: str) -> bool:
        """Mark a bounce report read; False when it was before."""
        ...

    async def recent_senders(self, since: dt.datetime) -> list[str]:
        """The senders that sent something since then."""
        ...

    async def has_invited(self, sender_email: str, recipient_email: str) -> bool:
        """True when an invitation from this mailbox went (or is going) to this address."""
        ...

    async def for_batch(self, batch: str) -> list[Delivery]: ...

    async def unsent_for_update(self, batch: str) -> list[Delivery]:
        """The batch's unsent deliveries, locked; one being sent right now is left out."""
        ...

    async def batch_paused(self, batch: str) -> bool: ...

    async def set_batch_paused(self, batch: str, paused: bool, by: str) -> None: ...

    async def set_sender_paused(self, sender_email: str, paused: bool, by: str) -> None: ...

    async def sender_control(self, sender_email: str) -> tuple[bool, dt.datetime | None]:
        """Whether the sender is paused, and until when its mailbox rests."""
        ...


class AddressRepository(Protocol):
    async def get(self, email: str) -> Address:
        """The address, suppressed or not, held against concurrent changes until the end of
        the unit of work."""
        ...

    async def save(self, address: Address) -> None: ...


class Invited(NamedTuple):
    """One delivery as tracking matches facts to it (one for each fact a batch applies)."""

    invitation: str
    training_session: str
    recipient_email: str  # lower case


class TrackingRepository(Protocol):
    async def invited(self, invitations: list[str], people: list[tuple[str, str]]) -> list[Invited]:
        """The deliveries of these invitations, and those of these (session, lower-case
        address) pairs, locked until the end of the unit of work, always in the same order (two
        units of work tracking the same invitations wait for each other, never deadlock)."""
        ...

    async def get_many(self, invitations: list[str]) -> dict[str, Tracking]:
        """What was heard of these invitations so far (those with nothing heard are absent)."""
        ...

    async def save_many(self, trackings: list[Tracking]) -> None: ...

    async def of_batch(self, batch: str) -> list[tuple[str, InvitationStatus]]:
        """(sender, status) of every invitation of the batch, in the order they arrived."""
        ...

    async def of_session(self, training_session: str, sender_email: str) -> list[InvitationStatus]:
        """The session's invitations from this mailbox."""
        ...


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class PermanentSendError(Exception):
    """The provider refused the message for good (a bad address): do not retry."""


class TransientSendError(Exception):
    """Not sent, try again later: the provider is busy or unreachable."""


class RateLimitedError(TransientSendError):
    """Not sent: the mailbox is over its quota; rest the whole mailbox, for `retry_after` when
    the provider said how long."""

    def __init__(self, message: str, retry_after: dt.timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HistoryExpiredError(Exception):
    """The mailbox no longer keeps history from that position: look the message up otherwise."""


class OutcomeUnknownError(Exception):
    """The request may have been accepted (timeout, dropped connection, 5xx): look the message
    up by its Message-ID before trying again, never resend blind."""


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> SendResult:
        """Send once; raise PermanentSendError, TransientSendError (RateLimitedError) or
        OutcomeUnknownError on failure."""
        ...

    async def find(self, sender: str, message_id: str) -> str | None:
        """The provider's id of a message sent from `sender` with this Message-ID, if any;
        TransientSendError when the lookup itself fails."""
        ...


@dataclass(frozen=True)
class SentPage:
    """Provider ids of messages added to the mailbox's sent mail, and where the next page starts."""

    provider_message_ids: list[str]
    next_page: str | None


class MailboxHistory(Protocol):
    """A mailbox's change history, which, unlike its search index, is up to date at once."""

    async def position(self, mailbox: str) -> str:
        """Where the mailbox's history stands now (Gmail's historyId)."""
        ...

    async def sent_since(self, mailbox: str, position: str, page: str | None) -> SentPage:
        """Messages added to the sent mail after `position`, a page at a time;
        HistoryExpiredError when the history no longer reaches back that far."""
        ...

    async def message_id(self, mailbox: str, provider_message_id: str) -> str | None:
        """The RFC 5322 Message-ID of one message; None when it is gone."""
        ...


class BounceSource(Protocol):
    async def recent(self, mailbox: str, days: int = 7) -> list[tuple[str, bytes]]:
        """(provider id, raw message) of the bounce reports the mailbox received lately."""
        ...


class Quota(Protocol):
    async def try_spend(self, mailbox: str, units: int) -> dt.timedelta | None:
        """Record the call if it fits the mailbox's budget now (None), else how long until it
        might."""
        ...

    async def spend(self, mailbox: str, units: int) -> None:
        """Wait until the call fits the mailbox's budget, and record it."""
        ...

    async def pause(self, mailbox: str, retry_after: dt.timedelta | None) -> dt.datetime:
        """Rest the mailbox after a rate-limit answer; when it may call again."""
        ...

    async def went_well(self, mailbox: str) -> None: ...


class MessageBuilder(Protocol):
    def __call__(self, delivery: Delivery) -> EmailMessage:
        """The RFC 5322 message of a delivery, as it is sent."""
        ...


class CalendarRefusedError(Exception):
    """The calendar refused for good (401/403: domain-wide delegation not granted for the
    calendar scope, or no right to the event; a 4xx for the request itself): the same call
    fails the same way every time, so the event is dead-lettered with this reason."""


class CalendarUnavailableError(Exception):
    """The calendar could not be reached or asked us to slow down (429, 5xx, a timeout, edits
    that kept racing ours): try again later."""


class Calendar(Protocol):
    """The session's event in a CSM's own calendar, written as that CSM."""

    async def add_attendee(self, organizer: str, event: SessionEvent, email: str) -> bool:
        """Put `email` on the event, creating the event as `event` says when it does not exist
        yet; False when the person was there already (nothing written). CalendarRefusedError or
        CalendarUnavailableError on failure."""
        ...

    async def remove_attendee(self, organizer: str, event_id: str, email: str) -> bool:
        """Take `email` off the event; False when the person (or the event) was not there."""
        ...

    async def move_event(self, organizer: str, event: SessionEvent) -> bool:
        """Give the organizer's event the session's time and what it says as `event` has
        them, its attendees untouched; False when the calendar has no such event (never
        created there, or deleted)."""
        ...

    async def cancel_event(self, organizer: str, event_id: str) -> bool:
        """Cancel (delete) the organizer's event; False when there was none, or it was
        deleted already."""
        ...


class SessionSource(Protocol):
    async def session_event(self, training_session: str) -> SessionEvent:
        """The session's calendar event as the catalog has the session now; NotFound when the
        catalog does not know it."""
        ...


class Inviters(Protocol):
    async def of(self, invitation: str) -> Inviter | None:
        """Who sent the invitation, from its delivery; None when this dispatcher never had it."""
        ...

    async def organizers(self, training_session: str) -> list[str]:
        """The addresses that sent invitations to the session, each mailbox once: the CSMs
        whose calendars may hold its event."""
        ...
