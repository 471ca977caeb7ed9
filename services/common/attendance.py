"""How one person's registration state moves with each attendance event.

Shared by the catalog (seats) and the personalizer (training history), which keep their own
records of the same events.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from services.common.errors import InvalidArgument

SEAT_HOLDING = frozenset({"registered", "attended", "no_show"})
KINDS = frozenset({"registered", "attended", "no_show", "cancelled"})
# Facts that can only be known once the session has begun.
NEEDS_STARTED_SESSION = frozenset({"attended", "no_show"})
# How far a webinar tool's clock (or ours) may run ahead before a fact counts as impossible.
CLOCK_SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class AttendanceFact:
    """One registration, attendance, no-show or cancellation of one address for one session,
    as a webinar tool or the platform reported it."""

    event_id: uuid.UUID
    training_session: str
    email: str
    kind: str  # one of KINDS
    # Minutes in the session (re-joins summed) for "attended"; 0 when the source does not say.
    minutes_attended: int = 0


def ensure_possible_now(kind: str, session_start: dt.datetime, now: dt.datetime) -> None:
    """InvalidArgument naming `kind` when the fact cannot be true yet.

    Someone cannot have attended, or missed, a session that has not begun; taking such a fact
    would close their training gaps ahead of time. Registering for or cancelling a future
    session is what people do, so those always pass.
    """
    if kind in NEEDS_STARTED_SESSION and session_start > now + CLOCK_SKEW:
        raise InvalidArgument.single(
            "kind",
            f"{kind} for a session that starts at {session_start.isoformat()}, "
            "which has not begun yet",
        )


def registration_transition(current: str | None, kind: str) -> str | None:
    """The person's next state for an event, or None when nothing changes.

    Attendance never goes backwards: a late "registered" or "cancelled" does not undo
    "attended", and "no_show" does not undo "attended" either.
    """
    target: str | None
    if kind == "attended":
        target = "attended"
    elif kind == "registered":
        target = "registered" if current in (None, "cancelled") else None
    elif kind == "no_show":
        target = "no_show" if current != "attended" else None
    elif kind == "cancelled":
        target = "cancelled" if current in (None, "registered") else None
    else:
        raise ValueError(f"unknown registration event {kind!r}")
    return None if target == current else target
