"""How one person's registration state moves with each attendance event.

Shared by the catalog (seats) and the personalizer (training history), which keep their own
records of the same events.
"""

from __future__ import annotations

SEAT_HOLDING = frozenset({"registered", "attended", "no_show"})
KINDS = frozenset({"registered", "attended", "no_show", "cancelled"})


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
