"""Decode an event or say why it can never be processed.

An event that parses but carries a NUL, a timestamp protobuf cannot represent, an enum value
nobody defined or an id that is not one will fail the same way on every delivery, so it is
poison, not a passing failure: `PoisonMessage` names the field and the consumer dead-letters it
at once instead of redelivering it for minutes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from services.common.messaging.consumer import PoisonMessage

M = TypeVar("M", bound=Message)

# google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
# google.protobuf.Duration: about +-10,000 years.
_DURATION_SECONDS = 315_576_000_000
_NANOS = 999_999_999
# NUL is refused by PostgreSQL text; the other C0 controls (and DEL) have no place in a name, an
# address or a mail body. Tab, line feed and carriage return are ordinary text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
        return uuid.UUID(value)
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
    if not at or not local or not domain or any(c.isspace() for c in value):
        raise PoisonMessage(f"{path}: {value[:80]!r} is not an email address")
    return value


def field_value(message: Message, path: str) -> Any:
    """The value at a dotted path such as "recipient.email"."""
    value: Any = message
    for part in path.split("."):
        value = getattr(value, part)
    return value


def problems(message: Message, prefix: str = "") -> Iterator[str]:
    """Every field whose value no handler could store or use, named by its path."""
    descriptor = message.DESCRIPTOR
    if descriptor.full_name == "google.protobuf.Timestamp":
        yield from _timestamp_problems(message, prefix.rstrip("."))
        return
    if descriptor.full_name == "google.protobuf.Duration":
        yield from _duration_problems(message, prefix.rstrip("."))
        return
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if _is_map(field):
            assert field.message_type is not None  # a map's entry type
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                entry = f"{path}[{key!r}]"
                if isinstance(key, str):
                    yield from _string_problems(key, entry)
                yield from _value_problems(value_field, item, entry)
        elif field.is_repeated:
            for i, item in enumerate(value):
                yield from _value_problems(field, item, f"{path}[{i}]")
        else:
            yield from _value_problems(field, value, path)


def _value_problems(field: FieldDescriptor, value: Any, path: str) -> Iterable[str]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return problems(value, f"{path}.")
    if field.type == FieldDescriptor.TYPE_STRING:
        return _string_problems(value, path)
    enum = field.enum_type
    if enum is not None and value not in enum.values_by_number:
        return [f"{path}: unknown {enum.name} value {value}"]
    return []


def _string_problems(value: str, path: str) -> list[str]:
    found = _CONTROL.search(value)
    if found is None:
        return []
    return [f"{path}: contains the control character {found.group()!r}"]


def _timestamp_problems(ts: Any, path: str) -> list[str]:
    low, high = _TIMESTAMP_SECONDS
    if not low <= ts.seconds <= high:
        return [f"{path}: seconds {ts.seconds} is outside years 1 to 9999"]
    if not 0 <= ts.nanos <= _NANOS:
        return [f"{path}: nanos {ts.nanos} is outside 0 to {_NANOS}"]
    return []


def _duration_problems(d: Any, path: str) -> list[str]:
    if abs(d.seconds) > _DURATION_SECONDS:
        return [f"{path}: seconds {d.seconds} is outside +-{_DURATION_SECONDS}"]
    if abs(d.nanos) > _NANOS:
        return [f"{path}: nanos {d.nanos} is outside +-{_NANOS}"]
    if (d.seconds > 0 and d.nanos < 0) or (d.seconds < 0 and d.nanos > 0):
        return [f"{path}: seconds and nanos have different signs"]
    return []


def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return field.is_repeated and entry is not None and entry.GetOptions().map_entry
