"""Checks every request passes before a handler sees it, whatever the RPC.

Protobuf accepts values that nothing behind it can hold: a NUL character (PostgreSQL's text
refuses it), a Timestamp before year 1 or after 9999 or with negative nanos (Python's datetime
and PostgreSQL's timestamptz cannot hold it), a Duration of 10^15 seconds, a megabyte in a title.
Walking the message by its descriptor finds each of them in any field, nested, repeated or in a
map, and names it as the caller wrote it (`course.learning_outcomes[2].text`), so that every RPC
answers INVALID_ARGUMENT instead of failing somewhere deep inside.

What a single field means (a session's length, a page size) is checked where the request is
converted to the domain (`api/convert.py`); this module knows only what every field must obey.
"""

from __future__ import annotations

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

_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"


@dataclass(frozen=True)
class Limits:
    """The longest string of each field, by full field name, and of every other field."""

    max_string_chars: int = DEFAULT_MAX_STRING_CHARS
    per_field: Mapping[str, int] = field(default_factory=lambda: dict(DOCUMENT_FIELDS))

    def longest(self, f: FieldDescriptor) -> int:
        """How many characters `f` may hold."""
        return self.per_field.get(f.full_name, self.max_string_chars)


def request_violations(message: Message, limits: Limits | None = None) -> list[FieldViolation]:
    """Every field of `message` (at any depth) that no handler could accept, by its path."""
    return list(_walk(message, "", limits or Limits()))


def _walk(message: Message, prefix: str, limits: Limits) -> Iterator[FieldViolation]:
    full_name = message.DESCRIPTOR.full_name
    if full_name == _TIMESTAMP:
        yield from _timestamp(message, prefix)
        return
    if full_name == _DURATION:
        yield from _duration(message, prefix)
        return
    # Only fields that are set: a default value is always acceptable here.
    for f, value in message.ListFields():
        path = f"{prefix}.{f.name}" if prefix else f.name
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value_field = f.message_type.fields_by_name["value"]
            key_field = f.message_type.fields_by_name["key"]
            for key, item in value.items():
                item_path = f"{path}[{key!r}]" if isinstance(key, str) else f"{path}[{key}]"
                yield from _scalar(key_field, key, item_path, limits)
                yield from _value(value_field, item, item_path, limits)
        elif f.is_repeated:
            for index, item in enumerate(value):
                yield from _value(f, item, f"{path}[{index}]", limits)
        else:
            yield from _value(f, value, path, limits)


def _value(
    f: FieldDescriptor, value: object, path: str, limits: Limits
) -> Iterator[FieldViolation]:
    if isinstance(value, Message):
        yield from _walk(value, path, limits)
    else:
        yield from _scalar(f, value, path, limits)


def _scalar(
    f: FieldDescriptor, value: object, path: str, limits: Limits
) -> Iterator[FieldViolation]:
    if not isinstance(value, str):
        return
    if "\x00" in value:
        # PostgreSQL's text types cannot store NUL; no field of ours has a use for it.
        yield FieldViolation(path, "must not contain NUL characters")
    longest = limits.longest(f)
    if len(value) > longest:
        yield FieldViolation(path, f"must be at most {longest} characters long")


def _nanos_in_range(nanos: int) -> bool:
    return 0 <= nanos <= NANOS_MAX


def _timestamp(message: Message, path: str) -> Iterator[FieldViolation]:
    ts = cast(Timestamp, message)
    seconds, nanos = ts.seconds, ts.nanos
    if not TIMESTAMP_MIN_SECONDS <= seconds <= TIMESTAMP_MAX_SECONDS:
        yield FieldViolation(path, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    if not _nanos_in_range(nanos):
        yield FieldViolation(path, "must have nanos between 0 and 999999999")


def _duration(message: Message, path: str) -> Iterator[FieldViolation]:
    d = cast(Duration, message)
    seconds, nanos = d.seconds, d.nanos
    if not -DURATION_MAX_SECONDS <= seconds <= DURATION_MAX_SECONDS:
        yield FieldViolation(path, f"must be within ±{DURATION_MAX_SECONDS} seconds")
    if not -NANOS_MAX <= nanos <= NANOS_MAX:
        yield FieldViolation(path, "must have nanos between -999999999 and 999999999")
    elif (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        yield FieldViolation(path, "must have seconds and nanos of the same sign")
