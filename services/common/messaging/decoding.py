"""Decode an event or say why it can never be processed.

An event that parses but carries a NUL, a timestamp protobuf cannot represent, an enum value
nobody defined or an id that is not one will fail the same way on every delivery, so it is
poison, not a passing failure: `PoisonMessage` names the field and the consumer dead-letters it
at once instead of redelivering it for minutes.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any, TypeVar

from asyncpg.pgproto.pgproto import UUID
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.messaging.consumer import PoisonMessage
from services.common.validation import EVENT_LIMITS, violations

M = TypeVar("M", bound=Message)
_SPACE = re.compile(r"\s")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse(kind: type[M], data: bytes) -> M:
    """The message, or PoisonMessage if it does not parse or a field holds an impossible value."""
    try:
        message = kind.FromString(data)
    except (DecodeError, ValueError) as exc:
        article = "an" if kind.__name__[:1] in "AEIOU" else "a"
        raise PoisonMessage(f"not {article} {kind.__name__}: {exc}") from exc
    problem = next(iter(problems(message)), None)
    if problem is not None:
        raise PoisonMessage(problem)
    return message


def parse_event(kind: type[M], data: bytes) -> tuple[M, uuid.UUID]:
    """The event and its event_id, which every event carries as a UUID."""
    event = parse(kind, data)
    return event, uuid_field(event, "event_id")


def uuid_field(message: Message, path: str) -> uuid.UUID:
    """The UUID at a (dotted) field path, or PoisonMessage naming the field."""
    value = field_value(message, path)
    if not value:
        raise PoisonMessage(f"{path}: is required")
    try:
        # The canonical 36-character form only: uuid.UUID also takes braces and "urn:uuid:".
        if not isinstance(value, str) or len(value) != 36:
            raise ValueError(value)
        # asyncpg's UUID is a uuid.UUID parsed in C: every event's id is read here.
        return UUID(value)
    except ValueError as exc:
        raise PoisonMessage(f"{path}: {value!r} is not a UUID") from exc


def require(message: Message, *paths: str) -> None:
    """PoisonMessage naming the first field at `paths` that is empty, zero or unspecified."""
    for path in paths:
        if not field_value(message, path):
            raise PoisonMessage(f"{path}: is required")


def require_email(message: Message, path: str) -> str:
    """The address at `path`, or PoisonMessage if it is missing or not an address."""
    value = str(field_value(message, path))
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or _SPACE.search(value):
        raise PoisonMessage(f"{path}: {value[:80]!r} is not an email address")
    return value


def field_value(message: Message, path: str) -> Any:
    """The value at a dotted path such as "recipient.email"."""
    if "." not in path:
        return getattr(message, path)
    value: Any = message
    for part in path.split("."):
        value = getattr(value, part)
    return value


def utc_time(timestamp: Timestamp) -> dt.datetime:
    """A Timestamp of an event that `parse` accepted (so within datetime's range), as an aware
    datetime in UTC to the microsecond: Timestamp.ToDatetime without its range check and time
    zone conversion, which cost a consumer reading thousands of events a second as much as the
    rest of an event's fields."""
    return _EPOCH + dt.timedelta(0, timestamp.seconds, timestamp.nanos // 1000)


def problems(message: Message) -> Iterator[str]:
    """Every field whose value no handler could store or use, named by its path."""
    return (f"{v.field}: {v.description}" for v in violations(message, EVENT_LIMITS))
