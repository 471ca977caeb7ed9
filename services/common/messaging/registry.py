"""Domain events to messages: one registry per service, built once in its bootstrap.

Each entry binds a domain event class to the subject it is published on and to the function
that turns it into its protobuf message. The registry fills in what every event message carries
(`event_id`, and `occur_time` when the function left it empty), so an entry says only what is
particular to its event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message

from services.common.clock import Clock, utc_now
from services.common.domain import Event
from services.common.outbox import OutboxMessage

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class _Entry:
    subject: str
    encode: Callable[[Any], Message]


class EventRegistry:
    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._entries: dict[type[Event], _Entry] = {}

    def register(self, event_type: type[E], subject: str, encode: Callable[[E], Message]) -> None:
        if event_type in self._entries:
            raise ValueError(f"{event_type.__name__} is registered already")
        self._entries[event_type] = _Entry(subject, encode)

    def subject_of(self, event_type: type[Event]) -> str:
        return self._entry(event_type).subject

    def to_outbox(self, event: Event) -> OutboxMessage:
        """The outbox row of one event: its id, its subject and its serialized message."""
        entry = self._entry(type(event))
        message = entry.encode(event)
        message.event_id = str(event.event_id)  # type: ignore[attr-defined]
        if not message.HasField("occur_time"):
            message.occur_time.FromDatetime(self._clock())  # type: ignore[attr-defined]
        return OutboxMessage(str(event.event_id), entry.subject, message.SerializeToString())

    def _entry(self, event_type: type[Event]) -> _Entry:
        try:
            return self._entries[event_type]
        except KeyError:
            raise LookupError(
                f"{event_type.__name__} has no registry entry: register it in the service's"
                " adapters/events.py"
            ) from None
