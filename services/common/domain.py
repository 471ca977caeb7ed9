"""What every service's domain shares: events, and aggregates that record them. No I/O here.

An aggregate records an event in the method that changes its state; the unit of work collects
the events of every aggregate its repositories have seen and writes them to the outbox in the
same transaction as the change (see `services.common.unit_of_work`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Event:
    """A fact other services may act on. Its id travels as the event_id of its message, so a
    consumer applies it once however often it is delivered."""

    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


class Aggregate:
    """A consistency boundary that records the events of its own changes.

    The events are kept outside the dataclass fields, so that `dataclasses.replace` starts a
    copy with none and a frozen aggregate can record them too.
    """

    def record(self, event: Event) -> None:
        self.__dict__.setdefault("_events", []).append(event)

    @property
    def pending_events(self) -> tuple[Event, ...]:
        """Recorded and not collected yet."""
        return tuple(self.__dict__.get("_events", ()))

    def collect_events(self) -> list[Event]:
        """Hand the recorded events over, once."""
        events: list[Event] = self.__dict__.pop("_events", [])
        return events
