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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
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

# Well-known types checked as a whole: their own range, appended to the violations found.
_RangeCheck = Callable[[Message, str, list[FieldViolation]], None]

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


@dataclass(frozen=True)
class Limits:
    """What every field must obey: the characters it may not hold, its longest string (by full
    field name, else `max_string_chars`; None: no limit) and whether enum numbers nobody
    defined are refused."""

    max_string_chars: int | None = DEFAULT_MAX_STRING_CHARS
    per_field: Mapping[str, int] = field(default_factory=lambda: dict(DOCUMENT_FIELDS))
    forbidden: re.Pattern[str] = NUL
    known_enums_only: bool = False
    # Every event and request walks the same few message types: what to check in each is
    # worked out once per type (a descriptor's attributes are built anew on each access).
    _plans: dict[Descriptor, _Plan] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def plan(self, descriptor: Descriptor) -> _Plan:
        """The checks a message of this type needs under these limits."""
        try:
            return self._plans[descriptor]
        except KeyError:
            found = self._plans[descriptor] = _Plan.of(descriptor, self)
            return found

    def longest(self, f: FieldDescriptor) -> int | None:
        """How many characters `f` may hold."""
        return self.per_field.get(f.full_name, self.max_string_chars)


@dataclass(frozen=True)
class _Rule:
    """How one field is checked. Strings: `longest` characters at most (None: any length).
    Enums: one of the `defined` numbers (None: any number). Maps: their `key` and `value`
    rules (None: nothing to check)."""

    name: str
    kind: int
    repeated: bool = False
    longest: int | None = None
    defined: frozenset[int] | None = None
    enum_name: str = ""
    is_map: bool = False
    key: _Rule | None = None
    value: _Rule | None = None

    @classmethod
    def of(cls, f: FieldDescriptor, limits: Limits) -> _Rule | None:
        """The rule for `f`, or None when no value of it can break `limits`."""
        repeated = f.is_repeated
        if f.type == _STRING_TYPE:
            return cls(f.name, _STRING_TYPE, repeated, longest=limits.longest(f))
        if f.type == _ENUM_TYPE and limits.known_enums_only:
            assert f.enum_type is not None
            defined = frozenset(f.enum_type.values_by_number)
            return cls(f.name, _ENUM_TYPE, repeated, defined=defined, enum_name=f.enum_type.name)
        if f.type != _MESSAGE_TYPE:
            return None
        entry = f.message_type
        assert entry is not None
        if entry.GetOptions().map_entry:
            key = cls.of(entry.fields_by_name["key"], limits)
            value = cls.of(entry.fields_by_name["value"], limits)
            return cls(f.name, _MESSAGE_TYPE, repeated, is_map=True, key=key, value=value)
        return cls(f.name, _MESSAGE_TYPE, repeated)


@dataclass(frozen=True)
class _Plan:
    """What to check in one message type: its own range (Timestamp, Duration) or its fields'
    rules, in field-number order.

    Most fields are single strings, and nearly every message is clean: those are screened
    together first (one search over them all, their longest against the tightest limit), and
    one by one (in `rules`) only when the screen finds something. `other_rules` are the rest."""

    special: _RangeCheck | None
    rules: tuple[_Rule, ...] = ()
    texts: tuple[str, ...] = ()
    tightest: int | None = None
    other_rules: tuple[_Rule, ...] = ()

    @classmethod
    def of(cls, descriptor: Descriptor, limits: Limits) -> _Plan:
        special = _SPECIAL.get(descriptor.full_name)
        if special is not None:
            return cls(special)
        by_number = sorted(descriptor.fields, key=lambda f: f.number)
        rules = tuple(rule for rule in (_Rule.of(f, limits) for f in by_number) if rule)
        texts = tuple(r for r in rules if r.kind == _STRING_TYPE and not r.repeated)
        limited = [r.longest for r in texts if r.longest is not None]
        return cls(
            None,
            rules,
            texts=tuple(r.name for r in texts),
            tightest=min(limited) if limited else None,
            other_rules=tuple(r for r in rules if r not in texts),
        )

    def texts_pass(self, message: Message, limits: Limits) -> bool:
        """True when no single string field of `message` can break `limits`."""
        if not self.texts:
            return True
        values = [getattr(message, name) for name in self.texts]
        if limits.forbidden.search("".join(values)) is not None:
            return False
        return self.tightest is None or max(map(len, values)) <= self.tightest


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
    plan = limits.plan(cast(Descriptor, message.DESCRIPTOR))
    if plan.special is not None:
        plan.special(message, prefix, found)
        return
    rules = plan.other_rules if plan.texts_pass(message, limits) else plan.rules
    for rule in rules:
        # Only fields that are set: a default value is always acceptable here.
        if rule.kind == _MESSAGE_TYPE and not rule.repeated:
            if message.HasField(rule.name):
                _walk(getattr(message, rule.name), _path(prefix, rule.name), limits, found)
            continue
        value = getattr(message, rule.name)
        if not value:
            continue
        if rule.is_map:
            _map(rule, value, _path(prefix, rule.name), limits, found)
        elif rule.repeated:
            path = _path(prefix, rule.name)
            for index, item in enumerate(value):
                if rule.kind == _MESSAGE_TYPE:
                    _walk(item, f"{path}[{index}]", limits, found)
                else:
                    _scalar(rule, item, f"{path}[{index}]", limits, found)
        else:
            _scalar(rule, value, None, limits, found, prefix)


_MESSAGE_TYPE = FieldDescriptor.TYPE_MESSAGE
_STRING_TYPE = FieldDescriptor.TYPE_STRING
_ENUM_TYPE = FieldDescriptor.TYPE_ENUM


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _map(
    rule: _Rule,
    entries: Mapping[object, object],
    path: str,
    limits: Limits,
    found: list[FieldViolation],
) -> None:
    for key, item in entries.items():
        item_path = f"{path}[{key!r}]" if isinstance(key, str) else f"{path}[{key}]"
        if rule.key is not None:
            _scalar(rule.key, key, item_path, limits, found)
        if rule.value is None:
            continue
        if rule.value.kind == _MESSAGE_TYPE:
            _walk(cast(Message, item), item_path, limits, found)
        else:
            _scalar(rule.value, item, item_path, limits, found)


def _scalar(
    rule: _Rule,
    value: object,
    path: str | None,
    limits: Limits,
    found: list[FieldViolation],
    prefix: str = "",
) -> None:
    """Check one string or enum number; `path` None means the field `rule` under `prefix`."""
    if rule.kind == _STRING_TYPE:
        text = cast(str, value)
        bad = limits.forbidden.search(text)
        if bad is not None:
            found.append(
                FieldViolation(
                    path or _path(prefix, rule.name),
                    f"contains the control character {bad.group()!r}",
                )
            )
        if rule.longest is not None and len(text) > rule.longest:
            found.append(
                FieldViolation(
                    path or _path(prefix, rule.name),
                    f"must be at most {rule.longest} characters long",
                )
            )
    elif rule.defined is not None and value not in rule.defined:
        found.append(
            FieldViolation(
                path or _path(prefix, rule.name), f"unknown {rule.enum_name} value {value}"
            )
        )


def _timestamp(message: Message, path: str, found: list[FieldViolation]) -> None:
    ts = cast(Timestamp, message)
    if not TIMESTAMP_MIN_SECONDS <= ts.seconds <= TIMESTAMP_MAX_SECONDS:
        found.append(
            FieldViolation(
                path,
                f"seconds {ts.seconds} is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            )
        )
    if not 0 <= ts.nanos <= NANOS_MAX:
        found.append(FieldViolation(path, f"nanos {ts.nanos} is outside 0 to {NANOS_MAX}"))


def _duration(message: Message, path: str, found: list[FieldViolation]) -> None:
    d = cast(Duration, message)
    seconds, nanos = d.seconds, d.nanos
    if not -DURATION_MAX_SECONDS <= seconds <= DURATION_MAX_SECONDS:
        found.append(FieldViolation(path, f"seconds {seconds} is outside ±{DURATION_MAX_SECONDS}"))
    if not -NANOS_MAX <= nanos <= NANOS_MAX:
        found.append(FieldViolation(path, f"nanos {nanos} is outside ±{NANOS_MAX}"))
    elif (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        found.append(FieldViolation(path, "seconds and nanos have different signs"))


_SPECIAL: Mapping[str, _RangeCheck] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
}
