"""What the dispatcher's use cases are given: the unit of work, the ports, the clock, policy."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.common.clock import Clock, utc_now
from services.dispatcher.service_layer.ports import (
    BounceSource,
    Calendar,
    Inviters,
    MailboxHistory,
    MailSender,
    MessageBuilder,
    Quota,
    SessionSource,
)
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork


@dataclass(frozen=True)
class Limits:
    """The mailbox's sending limits (from settings)."""

    # Quota units per call (Gmail's published costs): messages.send, an rfc822msgid: search
    # (messages.list), users.getProfile, users.history.list and messages.get.
    send_cost: int = 100
    lookup_cost: int = 5
    position_cost: int = 1
    history_cost: int = 2
    message_cost: int = 5
    daily_cap: int = 2_000
    # A lookup that finds nothing is trusted only this long after the attempt: a request that
    # timed out on our side may still be finishing at the provider.
    settle: dt.timedelta = dt.timedelta(seconds=60)
    # How long a worker's claim holds; a crashed worker's claims are taken over after it.
    lease: dt.timedelta = dt.timedelta(minutes=2)
    # One invitation per person within this many days, across every batch, unless the CSM
    # overrode it; 0 turns the send-time check off.
    frequency_cap_days: int = 14


@dataclass(frozen=True)
class CalendarSync:
    """What calendar sync needs: the CSMs' calendars, the catalog's sessions, and who sent
    each invitation."""

    calendar: Calendar
    sessions: SessionSource
    inviters: Inviters


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], DispatcherUnitOfWork]
    sender: MailSender
    build_message: MessageBuilder
    quota: Quota
    unsubscribe_key: str
    clock: Clock = utc_now
    new_id: Callable[[], uuid.UUID] = uuid.uuid4
    limits: Limits = Limits()
    # Whose quota a sender address spends: its own mailbox, or the one mailbox a token file
    # authorizes whatever the From address.
    quota_key: Callable[[str], str] = str
    # Where bounce reports are read (the Gmail sender); None where there is no mailbox.
    bounces: BounceSource | None = None
    # The mailbox history unknown outcomes are settled from; None where the provider has none
    # (then the sender's own lookup settles them).
    history: MailboxHistory | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Registrations put into the inviting CSM's calendar; None when calendar sync is off.
    calendar_sync: CalendarSync | None = None
