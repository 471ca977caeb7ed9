"""Checks every request and every incoming event passes before a handler sees it.

Protobuf accepts values that nothing behind it can hold: a NUL character (PostgreSQL's text
refuses it), a Timestamp before year 1 or after 9999 or with negative nanos (Python's datetime
and PostgreSQL's timestamptz cannot hold it), a Duration of 10^15 seconds, a megabyte in a title.
Walking the message by its descriptor finds each of them in any field, nested, repeated or in a
map, and names it as the caller wrote it (`course.learning_outcomes[2].text`), so that every RPC
answers INVALID_ARGUMENT instead of failing somewhere deep inside.

Requests (`request_violations`, from the gRPC server's interceptor) and events
(`messaging/decoding.py`, before a consumer's decoder) are walked alike; only the rules differ:
an event may not carry any control character or an enum value nobody defined, a request may
not carry NUL or a string past its field's length.

What a single field means (a session's length, a page size) is checked where the request is
converted to the domain (`api/convert.py`); this module knows only what every field must obey.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.errors import FieldViolation

# google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
TIMESTAMP_MIN_SECONDS = -62_135_596_800
TIMESTAMP_MAX_SECONDS = 253_402_300_799
# google.protobuf.Duration's documented range: about ±10,000 years.
DURATION_MAX_SECONDS = 315_576_000_000
NANOS_MAX = 999_999_999

# The longest string any field may carry unless it is known to carry more: far above any name,
# title or description, far below what would slow a service down.
DEFAULT_MAX_STRING_CHARS = 64 * 1024

# Fields that carry whole documents: a CSM's edited message and templates.
DOCUMENT_MAX_STRING_CHARS = 512 * 1024
DOCUMENT_FIELDS: Mapping[str, int] = {
    "trainvite.common.v1.InvitationContent.text_body": DOCUMENT_MAX_STRING_CHARS,
    "trainvite.common.v1.InvitationContent.html_body": DOCUMENT_MAX_STRING_CHARS,
    "trainvite.common.v1.InvitationContent.calendar_ics": DOCUMENT_MAX_STRING_CHARS,
    "trainvite.personalizer.v1.RenderInvitationDraftRequest.body_template": (
        DOCUMENT_MAX_STRING_CHARS
    ),
}

# PostgreSQL's text types cannot store NUL, and no field of ours has a use for it.
NUL = re.compile("\x00")
# Nor has an event's field a use for the other C0 controls or DEL (tab, line feed and carriage
# return are ordinary text): they have no place in a name, an address or a mail body.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"


@dataclass(frozen=True)
class Limits:
    """What every field must obey: the characters it may not hold, its longest string (by full
    field name, else `max_string_chars`; None: no limit) and whether enum numbers nobody
    defined are refused."""

    max_string_chars: int | None = DEFAULT_MAX_STRING_CHARS
    per_field: Mapping[str, int] = field(default_factory=lambda: dict(DOCUMENT_FIELDS))
    forbidden: re.Pattern[str] = NUL
    known_enums_only: bool = False
    # Every event and request walks the same few descriptors: each one's limit is looked up
    # once (a descriptor's full_name is built anew on each access).
    _longest: dict[FieldDescriptor, int | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def longest(self, f: FieldDescriptor) -> int | None:
        """How many characters `f` may hold."""
        try:
            return self._longest[f]
        except KeyError:
            found = self._longest[f] = self.per_field.get(f.full_name, self.max_string_chars)
            return found


# Events come from our own services and the platform: no length is imposed on them here.
EVENT_LIMITS = Limits(max_string_chars=None, forbidden=CONTROL_CHARACTERS, known_enums_only=True)


def request_violations(message: Message, limits: Limits | None = None) -> list[FieldViolation]:
    """Every field of `message` (at any depth) that no handler could accept, by its path."""
    return violations(message, limits or Limits())


def violations(message: Message, limits: Limits) -> list[FieldViolation]:
    """Each field of `message`, at any depth, that breaks `limits`, named by its path."""
    found: list[FieldViolation] = []
    # Every event and request passes here: the walk appends to one list rather than nesting
    # generators, and builds a field's path only for a nested message or a violation.
    _walk(message, "", limits, found)
    return found


def _walk(message: Message, prefix: str, limits: Limits, found: list[FieldViolation]) -> None:
    full_name = message.DESCRIPTOR.full_name
    if full_name == _TIMESTAMP:
        found.extend(_timestamp(message, prefix))
        return
    if full_name == _DURATION:
        found.extend(_duration(message, prefix))
        return
    # Only fields that are set: a default value is always acceptable here. A field's kind is
    # told by its type number (an isinstance check on protobuf's abstract Message costs more
    # than the rest of the check).
    for f, value in message.ListFields():
        kind = f.type
        if kind == _MESSAGE_TYPE:
            if _is_map(f):
                _map(f, value, _path(prefix, f), limits, found)
            elif f.is_repeated:
                path = _path(prefix, f)
                for index, item in enumerate(value):
                    _walk(item, f"{path}[{index}]", limits, found)
            else:
                _walk(value, _path(prefix, f), limits, found)
        elif kind in (_STRING_TYPE, _ENUM_TYPE):
            if f.is_repeated:
                path = _path(prefix, f)
                for index, item in enumerate(value):
                    _scalar(f, item, f"{path}[{index}]", limits, found)
            else:
                _scalar(f, value, None, limits, found, prefix)


_MESSAGE_TYPE = FieldDescriptor.TYPE_MESSAGE
_STRING_TYPE = FieldDescriptor.TYPE_STRING
_ENUM_TYPE = FieldDescriptor.TYPE_ENUM


def _path(prefix: str, f: FieldDescriptor) -> str:
    return f"{prefix}.{f.name}" if prefix else f.name


@functools.cache
def _is_map(f: FieldDescriptor) -> bool:
    return f.message_type is not None and bool(f.message_type.GetOptions().map_entry)


def _map(
    f: FieldDescriptor,
    entries: Mapping[object, object],
    path: str,
    limits: Limits,
    found: list[FieldViolation],
) -> None:
    assert f.message_type is not None
    key_field = f.message_type.fields_by_name["key"]
    value_field = f.message_type.fields_by_name["value"]
    for key, item in entries.items():
        item_path = f"{path}[{key!r}]" if isinstance(key, str) else f"{path}[{key}]"
        _scalar(key_field, key, item_path, limits, found)
        if value_field.type == _MESSAGE_TYPE:
            _walk(cast(Message, item), item_path, limits, found)
        else:
            _scalar(value_field, item, item_path, limits, found)


def _scalar(
    f: FieldDescriptor,
    value: object,
    path: str | None,
    limits: Limits,
    found: list[FieldViolation],
    prefix: str = "",
) -> None:
    """Check one scalar; `path` None means the field `f` under `prefix`."""
    if isinstance(value, str):
        bad = limits.forbidden.search(value)
        if bad is not None:
            found.append(
                FieldViolation(
                    path or _path(prefix, f),
                    f"contains the control character {bad.group()!r}",
                )
            )
        longest = limits.longest(f)
        if longest is not None and len(value) > longest:
            found.append(
                FieldViolation(
                    path or _path(prefix, f), f"must be at most {longest} characters long"
                )
            )
    elif (
        limits.known_enums_only
        and f.enum_type is not None
        and value not in f.enum_type.values_by_number
    ):
        found.append(
            FieldViolation(path or _path(prefix, f), f"unknown {f.enum_type.name} value {value}")
        )


def _timestamp(message: Message, path: str) -> Iterator[FieldViolation]:
    ts = cast(Timestamp, message)
    if not TIMESTAMP_MIN_SECONDS <= ts.seconds <= TIMESTAMP_MAX_SECONDS:
        yield FieldViolation(
            path,
            f"seconds {ts.seconds} is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
        )
    if not 0 <= ts.nanos <= NANOS_MAX:
        yield FieldViolation(path, f"nanos {ts.nanos} is outside 0 to {NANOS_MAX}")


def _duration(message: Message, path: str) -> Iterator[FieldViolation]:
    d = cast(Duration, message)
    seconds, nanos = d.seconds, d.nanos
    if not -DURATION_MAX_SECONDS <= seconds <= DURATION_MAX_SECONDS:
        yield FieldViolation(path, f"seconds {seconds} is outside ±{DURATION_MAX_SECONDS}")
    if not -NANOS_MAX <= nanos <= NANOS_MAX:
        yield FieldViolation(path, f"nanos {nanos} is outside ±{NANOS_MAX}")
    elif (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        yield FieldViolation(path, "seconds and nanos have different signs")
