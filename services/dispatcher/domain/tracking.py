"""How far each invitation went after it was sent: waitlisted, registered, cancelled, attended
or no-show, and the counts and one-line summary a CSM reads. No I/O here.

An invitation's stage only moves forward. The catalog's rules decide a registration's next
state (`services.common.attendance.registration_transition`: a late "registered" does not undo
"attended", "no_show" does not undo "attended"); the dispatcher adds the waitlist in front of
them, left by a seat, a cancellation or the session itself. Facts arrive out of order, twice,
or replayed: each is applied once (by event id), and a registration-state fact older than the
newest one heard of the invitation (by the time it happened) is stale and changes nothing.
Minutes attended are those of the newest "attended" result that counts minutes (by its time;
of two at the same time, the higher): the catalog stamps each result with when it worked it
out, so a result worked out again from more of the webinar's activity (a leave heard after the
end) replaces the one before. Any order of the same facts ends in the same state.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from services.common.attendance import registration_transition


class Stage(enum.StrEnum):
    """What was last heard of an invitation; NOT_SENT and SENT come from its delivery."""

    NOT_SENT = "not_sent"
    SENT = "sent"
    WAITLISTED = "waitlisted"
    REGISTERED = "registered"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


# The stages a fact can move an invitation to (stored); NOT_SENT and SENT are never stored.
HEARD = (Stage.WAITLISTED, Stage.REGISTERED, Stage.CANCELLED, Stage.ATTENDED, Stage.NO_SHOW)
# Kinds of fact: the attendance kinds plus the catalog's waitlist.
KINDS = frozenset({"waitlisted", "registered", "cancelled", "attended", "no_show"})
# Facts that only the session itself decides, whenever they are heard.
_SESSION_FACTS = frozenset({"attended", "no_show"})


class TrackingFact(NamedTuple):
    """One registration or attendance fact about one person and session, as decoded from
    AttendanceRecorded or RegistrationChanged. (A named tuple: a consumer makes one for every
    event it reads, and a frozen dataclass costs several times as much to build.)"""

    event_id: uuid.UUID
    occurred_at: dt.datetime
    training_session: str
    email: str  # lower case
    kind: str  # one of KINDS
    # The invitation the person came through; empty when the source did not say.
    invitation: str = ""
    waitlist_position: int = 0
    minutes_attended: int = 0
    # Where it came from, for the log line of facts about people never invited.
    source: str = ""


@dataclass
class Tracking:
    """What was heard of one invitation after it was sent."""

    invitation: str
    stage: Stage | None = None
    waitlist_position: int = 0
    minutes_attended: int = 0
    # When the newest fact applied to it happened.
    updated_at: dt.datetime | None = None
    # When the "attended" result that gave `minutes_attended` was worked out.
    minutes_at: dt.datetime | None = None

    def apply(self, fact: TrackingFact) -> bool:
        """Take one fact; True when anything changed."""
        stale = self.updated_at is not None and fact.occurred_at < self.updated_at
        before = self._state()
        if fact.kind in _SESSION_FACTS or not stale:
            target = next_stage(self.stage, fact.kind)
            if target is not None:
                self.stage = target
        if self.stage is Stage.WAITLISTED:
            if fact.kind == "waitlisted" and not stale:
                self.waitlist_position = fact.waitlist_position
        else:
            self.waitlist_position = 0
        # Minutes come from results that say them; the catalog's own "attended" (a registration
        # moving) and a source that does not count minutes say 0, which is no result.
        if fact.kind == "attended" and fact.minutes_attended > 0 and self._supersedes_minutes(fact):
            self.minutes_attended = fact.minutes_attended
            self.minutes_at = fact.occurred_at
        if self.updated_at is None or fact.occurred_at > self.updated_at:
            self.updated_at = fact.occurred_at
        return before != self._state()

    def _supersedes_minutes(self, fact: TrackingFact) -> bool:
        if self.minutes_at is None or fact.occurred_at > self.minutes_at:
            return True
        return fact.occurred_at == self.minutes_at and fact.minutes_attended > self.minutes_attended

    def _state(self) -> tuple[object, ...]:
        return (
            self.stage,
            self.waitlist_position,
            self.minutes_attended,
            self.updated_at,
            self.minutes_at,
        )


def next_stage(current: Stage | None, kind: str) -> Stage | None:
    """The invitation's next stage for a kind of fact, or None when it stays."""
    if kind not in KINDS:
        raise ValueError(f"unknown tracking fact {kind!r}")
    if kind == "waitlisted":
        # Joining the waitlist (again, after a cancellation); never a step back from a seat.
        return Stage.WAITLISTED if current in (None, Stage.CANCELLED) else None
    # On the waitlist the person holds no seat yet: for the catalog's rules that is no state.
    seat_state = None if current in (None, Stage.WAITLISTED) else str(current)
    target = registration_transition(seat_state, kind)
    if target is None:
        return None
    stage = Stage(target)
    return None if stage is current else stage


def stage_of(delivery_sent: bool, tracking: Tracking | None) -> Stage:
    """The stage a CSM sees: what was heard, else whether the invitation went out."""
    if tracking is not None and tracking.stage is not None:
        return tracking.stage
    return Stage.SENT if delivery_sent else Stage.NOT_SENT


def is_unsubscribe(suppressed_reason: str | None) -> bool:
    """True when the address was suppressed because its owner asked (not a bounce or a
    provider's rejection, the reasons the dispatcher itself gives)."""
    if suppressed_reason is None:
        return False
    return not suppressed_reason.startswith(("bounced:", "rejected:"))


@dataclass(frozen=True)
class InvitationStatus:
    """One invitation as the CSM sees it."""

    invitation: str
    recipient_email: str
    training_session: str
    customer_id: str
    delivery_state: str
    stage: Stage
    waitlist_position: int
    minutes_attended: int
    unsubscribed: bool
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class Counts:
    """Invitations by the stage they reached; `unsubscribed` counts across stages."""

    invited: int = 0
    not_sent: int = 0
    sent: int = 0
    waitlisted: int = 0
    registered: int = 0
    attended: int = 0
    no_show: int = 0
    cancelled: int = 0
    unsubscribed: int = 0

    @classmethod
    def of(cls, invitations: Iterable[InvitationStatus]) -> Counts:
        by_stage = dict.fromkeys(Stage, 0)
        invited = unsubscribed = 0
        for i in invitations:
            invited += 1
            by_stage[i.stage] += 1
            unsubscribed += i.unsubscribed
        return cls(
            invited=invited,
            not_sent=by_stage[Stage.NOT_SENT],
            sent=by_stage[Stage.SENT],
            waitlisted=by_stage[Stage.WAITLISTED],
            registered=by_stage[Stage.REGISTERED],
            attended=by_stage[Stage.ATTENDED],
            no_show=by_stage[Stage.NO_SHOW],
            cancelled=by_stage[Stage.CANCELLED],
            unsubscribed=unsubscribed,
        )

    def summary(self) -> str:
        """One line for the chat, in funnel order, zeros left out except "invited".

        "registered" there counts everyone who got a seat, including those who then attended
        or did not show: to a CSM "2 registered · 1 attended" means one of the two came.
        """
        parts = [
            (self.invited, "invited"),
            (self.not_sent, "not sent"),
            (self.waitlisted, "waitlisted"),
            (self.registered + self.attended + self.no_show, "registered"),
            (self.attended, "attended"),
            (self.no_show, "no-show"),
            (self.cancelled, "cancelled"),
            (self.unsubscribed, "unsubscribed"),
        ]
        shown = [f"{n} {label}" for i, (n, label) in enumerate(parts) if n or i == 0]
        return " · ".join(shown)
