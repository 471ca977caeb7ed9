"""Hypothesis strategies for any protobuf message, built from its descriptor.

`messages(SomeMessage)` draws instances whose every field is either unset or holds a value chosen
to break things: strings with NUL and control characters, huge strings, odd unicode, integers and
floats at their extremes, enum numbers no one defined, Timestamps and Durations at and beyond the
range protobuf allows, empty and long repeated fields, FieldMasks with odd paths, nested messages
to a small depth. Alongside them come values that look right (uuids, resource names in the formats
the protos declare, ids the caller knows exist, plausible times), so that generated requests get
past the first checks and reach the code behind them.

Resource name formats come from the descriptors themselves: `google.api.resource` patterns on
messages and the `google.api.http` path templates of a service's methods (`{name=courses/*}`).
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from google.api import (  # type: ignore[import-untyped]
    annotations_pb2,
    field_behavior_pb2,
    resource_pb2,
)
from google.protobuf import descriptor as _descriptor
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

# The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
TIMESTAMP_MIN_SECONDS = -62_135_596_800
TIMESTAMP_MAX_SECONDS = 253_402_300_799
# The range google.protobuf.Duration allows: about ±10,000 years.
DURATION_MAX_SECONDS = 315_576_000_000
NANOS_MAX = 999_999_999

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
}

# Text the services must refuse or carry safely: NUL, C0/C1 controls, bidi overrides, a BOM,
# characters outside the BMP, and strings that mean something to SQL, Jinja, shells and headers.
NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "Subject: x\r\nBcc: y@example.com",
    "\t\x0b\x0c\x1b[31m",
    "\x7f\x80\x9f",
    "\u202e\u2066",
    "\ufeff",
    "\ufffe\uffff",
    "\U0001f600\U0010ffff",
    "' OR '1'='1",
    "'; DROP TABLE courses; --",
    "%s%n%x",
    "{{ 7*7 }}",
    "{% for x in range(10) %}{{ x }}{% endfor %}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "null",
    "NaN",
    "-1",
    "99999999999999999999",
    "*",
    "/",
    "//",
    "a/b/c",
)

# Lengths around the limits a service might set, and past gRPC-sized ones without being slow.
HUGE_LENGTHS = (1_000, 65_535, 65_536, 65_537, 200_000)

_SEGMENT_CHARS = string.ascii_letters + string.digits + "-_"


def _text_with_controls() -> SearchStrategy[str]:
    """Any unicode text (no lone surrogates: protobuf cannot carry them), with controls mixed in."""
    return st.text(
        alphabet=st.one_of(
            st.characters(codec="utf-8"),
            st.sampled_from("\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\u2029\u202e\ufeff"),
        ),
        max_size=40,
    )


def huge_strings() -> SearchStrategy[str]:
    """Strings of a length around the usual caps, one repeated character (cheap to draw)."""
    return st.builds(
        lambda char, length: char * length,
        st.sampled_from(["a", "é", "\x00", " ", "\U0001f600"]),
        st.sampled_from(HUGE_LENGTHS),
    )


def uuids() -> SearchStrategy[str]:
    """Valid uuid strings in the usual and in odd spellings."""
    spellings: list[Callable[[Any], str]] = [
        str,
        lambda u: str(u).upper(),
        lambda u: u.hex,
        lambda u: "{" + str(u) + "}",
    ]
    return st.tuples(st.uuids(), st.sampled_from(spellings)).map(lambda pair: pair[1](pair[0]))


def id_segments(known_ids: Sequence[str] = ()) -> SearchStrategy[str]:
    """What goes between the slashes of a resource name: known ids, uuids, plausible, odd."""
    options: list[SearchStrategy[str]] = [
        uuids(),
        st.text(alphabet=_SEGMENT_CHARS, min_size=1, max_size=64),
        st.sampled_from(
            ["", "-", "..", "%2F", "a\x00", "x" * 65, "00000000-0000-0000-0000-00000000000g"]
        ),
    ]
    if known_ids:
        options.insert(0, st.sampled_from(list(known_ids)))
    return st.one_of(*options)


def plausible_segments(known_ids: Sequence[str] = ()) -> SearchStrategy[str]:
    """Segments of well-formed names: mostly ids that exist, else well-formed unknown ones."""
    known = [i for i in known_ids if "/" not in i]
    formed = st.one_of(
        st.uuids().map(str), st.text(alphabet=_SEGMENT_CHARS, min_size=1, max_size=20)
    )
    return st.one_of(st.sampled_from(known), st.sampled_from(known), formed) if known else formed


def _matches(template: str, name: str) -> bool:
    """`training-sessions/0f3c...` fits `training-sessions/*`."""
    return re.fullmatch("[^/]+".join(re.escape(p) for p in template.split("*")), name) is not None


def _pattern_to_template(pattern: str) -> str:
    """`courses/{course}` and `courses/*` both become `courses/*`."""
    return re.sub(r"\{[^}]*\}", "*", pattern)


def resource_names(
    templates: Sequence[str], known_ids: Sequence[str] = (), *, hostile: bool = True
) -> SearchStrategy[str]:
    """Names filling each `*` of one of `templates` (`customers/*/invitation-batches/*`)."""
    segment = id_segments(known_ids) if hostile else plausible_segments(known_ids)

    def fill(template: str) -> SearchStrategy[str]:
        parts = template.split("*")
        return st.lists(segment, min_size=len(parts) - 1, max_size=len(parts) - 1).map(
            lambda ids: "".join(p + i for p, i in zip(parts, [*ids, ""], strict=True))
        )

    return st.one_of(*[fill(t) for t in templates])


def _mutated(valid: SearchStrategy[str]) -> SearchStrategy[str]:
    """A valid-looking value spoiled a little: a NUL or a control inside, padded, doubled."""
    spoilers: list[Callable[[str, str], str]] = [
        lambda value, bad: value + bad,
        lambda value, bad: bad + value,
        lambda value, bad: value[:3] + bad + value[3:],
        lambda value, bad: value * 2,
    ]
    return st.tuples(
        valid,
        st.sampled_from(["\x00", "\n", " ", "/", "\u202e", "/x", "é"]),
        st.sampled_from(spoilers),
    ).map(lambda t: t[2](t[0], t[1]))


def plausible_strings(known_ids: Sequence[str] = ()) -> SearchStrategy[str]:
    """Values of the kinds the services store: words, emails, time zones, URLs, feature keys."""
    options: list[SearchStrategy[str]] = [
        st.sampled_from(
            [
                "Advanced Analytics",
                "dashboards",
                "data_analyst",
                "America/New_York",
                "Europe/Berlin",
                "Not/AZone",
                "UTC",
                "https://example.com/register",
                "javascript:alert(1)",
                "someone@example.com",
                "not-an-email",
                '"quoted"@example.com',
                'W/"etag"',
            ]
        ),
        st.builds(
            "{}@{}.example".format,
            st.text(alphabet=_SEGMENT_CHARS + ".+", min_size=1, max_size=20),
            st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=12),
        ),
        st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=20),
    ]
    if known_ids:
        options.insert(0, st.sampled_from(list(known_ids)))
    return st.one_of(*options)


def strings(
    templates: Sequence[str] = (), known_ids: Sequence[str] = (), *, hostile: bool = True
) -> SearchStrategy[str]:
    """Any string field: valid-looking, hostile, huge, or a valid one spoiled; only
    valid-looking ones (names in the field's own format where known) when not `hostile`."""
    valid: list[SearchStrategy[str]] = [plausible_strings(known_ids), uuids()]
    if templates:
        # Resource names first, so that a field that takes one mostly gets one.
        valid.insert(0, resource_names(templates, known_ids, hostile=hostile))
    looks_valid = st.one_of(*valid)
    if not hostile and templates:
        # A name in the field's format, of something that exists half the time: the request
        # reaches the handler and, often, the data behind it.
        existing = [k for k in known_ids if any(_matches(t, k) for t in templates)]
        names = resource_names(templates, known_ids, hostile=False)
        return st.one_of(st.sampled_from(existing), names) if existing else names
    if not hostile:
        return looks_valid
    return st.one_of(
        looks_valid,
        st.sampled_from(NASTY_STRINGS),
        _text_with_controls(),
        _mutated(looks_valid),
        huge_strings(),
    )


def integers(bounds: tuple[int, int], *, hostile: bool = True) -> SearchStrategy[int]:
    """Integers of a protobuf type, biased to its edges and to small values; only small
    non-negative ones when not `hostile`."""
    low, high = bounds
    if not hostile:
        return st.integers(min_value=max(low, 0), max_value=min(high, 100))
    edges = sorted({low, low + 1, -1 if low < 0 else 0, 0, 1, 2, 20, 100, 101, high - 1, high})
    return st.one_of(
        st.sampled_from(edges),
        st.integers(min_value=max(low, -1000), max_value=min(high, 1000)),
        st.integers(min_value=low, max_value=high),
    )


def floats(width: int, *, hostile: bool = True) -> SearchStrategy[float]:
    """Any float of the width, NaN and infinities included; between 0 and 1 when not `hostile`."""
    if not hostile:
        return st.floats(min_value=0, max_value=1, width=width)  # type: ignore[arg-type]
    return st.floats(width=width, allow_nan=True, allow_infinity=True)  # type: ignore[arg-type]


def enum_numbers(enum: EnumDescriptor, *, hostile: bool = True) -> SearchStrategy[int]:
    """The enum's values, and (for open enums, when `hostile`) numbers it does not define."""
    defined = st.sampled_from([v.number for v in enum.values])
    if not hostile:
        # Mostly a meaningful value: the zero value usually means "unspecified".
        meaningful = [v.number for v in enum.values if v.number != 0]
        return st.one_of(st.sampled_from(meaningful), defined) if meaningful else defined
    if getattr(enum, "is_closed", False):
        return defined
    return st.one_of(defined, defined, integers(INT32))


def timestamps_fields() -> SearchStrategy[tuple[int, int]]:
    """(seconds, nanos) of a Timestamp: plausible, at the edges of its range, and beyond them."""
    seconds = st.one_of(
        # Around now: 2020 to 2035, where sessions and sends really are.
        st.integers(min_value=1_577_836_800, max_value=2_051_222_400),
        st.sampled_from(
            [
                0,
                TIMESTAMP_MIN_SECONDS,
                TIMESTAMP_MIN_SECONDS - 1,
                TIMESTAMP_MAX_SECONDS,
                TIMESTAMP_MAX_SECONDS + 1,
                INT64[0],
                INT64[1],
                -1,
            ]
        ),
        st.integers(min_value=TIMESTAMP_MIN_SECONDS, max_value=TIMESTAMP_MAX_SECONDS),
        st.integers(min_value=INT64[0], max_value=INT64[1]),
    )
    nanos = st.one_of(
        st.just(0),
        st.integers(min_value=0, max_value=NANOS_MAX),
        st.sampled_from([-1, NANOS_MAX, NANOS_MAX + 1, INT32[0], INT32[1]]),
    )
    return st.tuples(seconds, nanos)


def durations_fields() -> SearchStrategy[tuple[int, int]]:
    """(seconds, nanos) of a Duration: plausible, at the edges, beyond, and with mixed signs."""
    seconds = st.one_of(
        st.integers(min_value=0, max_value=86_400),
        st.sampled_from(
            [
                0,
                -1,
                DURATION_MAX_SECONDS,
                -DURATION_MAX_SECONDS,
                DURATION_MAX_SECONDS + 1,
                -DURATION_MAX_SECONDS - 1,
                10**15,
                INT64[0],
                INT64[1],
            ]
        ),
        st.integers(min_value=-DURATION_MAX_SECONDS, max_value=DURATION_MAX_SECONDS),
        st.integers(min_value=INT64[0], max_value=INT64[1]),
    )
    nanos = st.one_of(
        st.just(0),
        st.integers(min_value=-NANOS_MAX, max_value=NANOS_MAX),
        st.sampled_from([NANOS_MAX + 1, -NANOS_MAX - 1, INT32[0], INT32[1]]),
    )
    return st.tuples(seconds, nanos)


def plausible_timestamps_fields() -> SearchStrategy[tuple[int, int]]:
    """(seconds, nanos) of instants from 2020 to 2035, half of them in the coming two years
    (where sessions and send times are)."""
    now = int(time.time())
    return st.tuples(
        st.one_of(
            st.integers(min_value=now + 3_600, max_value=now + 2 * 365 * 86_400),
            st.integers(min_value=1_577_836_800, max_value=2_051_222_400),
        ),
        st.integers(min_value=0, max_value=NANOS_MAX),
    )


def plausible_durations_fields() -> SearchStrategy[tuple[int, int]]:
    """(seconds, nanos) of a session's or a delay's length: a minute to a day."""
    minutes = st.integers(min_value=1, max_value=1_440).map(lambda m: m * 60)
    return st.tuples(st.one_of(minutes, st.integers(min_value=60, max_value=86_400)), st.just(0))


def _field_paths(message: Descriptor, depth: int = 2) -> list[str]:
    """Every field path of `message` down to `depth` levels (`content.subject`)."""
    paths: list[str] = []
    for f in message.fields:
        paths.append(f.name)
        if f.message_type is not None and depth > 1 and not f.is_repeated:
            paths.extend(f"{f.name}.{p}" for p in _field_paths(f.message_type, depth - 1))
    return paths


def field_mask_paths(
    siblings: Iterable[Descriptor], *, hostile: bool = True
) -> SearchStrategy[list[str]]:
    """Paths of an update mask: real fields of the messages beside it, and (when `hostile`)
    odd ones."""
    real = sorted({p for d in siblings for p in _field_paths(d)})
    if real and not hostile:
        return st.lists(st.sampled_from(real), min_size=1, max_size=3, unique=True)
    odd = ["", "*", ".", "a..b", "name", "etag", "UNKNOWN_FIELD", "title\x00", "Title", "content."]
    options = [st.sampled_from(odd), _text_with_controls()]
    if real:
        options.insert(0, st.sampled_from(real))
    return st.lists(st.one_of(*options), max_size=6)


# A long repeated field stays under this many bytes, well inside gRPC's 4 MiB message limit, so
# that it reaches the service instead of being refused by the transport.
LONG_LIST_MAX_BYTES = 300_000


def _size(value: Any) -> int:
    if isinstance(value, Message):
        return value.ByteSize()
    if isinstance(value, str | bytes):
        return len(value)
    return 8


def _repeat(element: Any, times: int) -> list[Any]:
    return [element] * max(1, min(times, LONG_LIST_MAX_BYTES // max(1, _size(element))))


def _long_lists(element: SearchStrategy[Any], *, hostile: bool = True) -> SearchStrategy[list[Any]]:
    """Short lists of varied elements, or (when `hostile`) one element repeated many times."""
    if not hostile:
        return st.lists(element, max_size=3)
    return st.one_of(
        st.lists(element, max_size=4),
        st.tuples(element, st.sampled_from([50, 1_000])).map(lambda pair: _repeat(*pair)),
    )


def _full_name_of(message: type[Message] | Descriptor) -> Descriptor:
    if isinstance(message, Descriptor):
        return message
    return cast(Descriptor, message.DESCRIPTOR)


def _resource_patterns(files: Iterable[FileDescriptor]) -> dict[str, list[str]]:
    """Name templates by full field name: each resource's `name` from its `google.api.resource`
    pattern, and each field with a `google.api.resource_reference` from the referenced type's."""
    by_type: dict[str, list[str]] = {}
    messages: list[Descriptor] = []

    def visit(d: Descriptor) -> None:
        messages.append(d)
        options = d.GetOptions()
        if options.HasExtension(resource_pb2.resource):
            resource = options.Extensions[resource_pb2.resource]
            by_type[resource.type] = [_pattern_to_template(p) for p in resource.pattern]
        for nested in d.nested_types:
            visit(nested)

    for f in files:
        for d in f.message_types_by_name.values():
            visit(d)
    found: dict[str, list[str]] = {}
    for d in messages:
        options = d.GetOptions()
        if options.HasExtension(resource_pb2.resource):
            found[f"{d.full_name}.name"] = by_type[options.Extensions[resource_pb2.resource].type]
        for field in d.fields:
            field_options = field.GetOptions()
            if field_options.HasExtension(resource_pb2.resource_reference):
                referenced = field_options.Extensions[resource_pb2.resource_reference].type
                if referenced in by_type:
                    found[field.full_name] = by_type[referenced]
    return found


def http_templates(service: ServiceDescriptor) -> dict[str, list[str]]:
    """Name templates from a service's `google.api.http` paths, keyed by full field name.

    `get: "/api/{name=customers/*/training-gaps}"` on GetTrainingGaps gives
    `trainvite.personalizer.v1.GetTrainingGapsRequest.name` -> `customers/*/training-gaps`, and
    `{course.name=courses/*}` the template of the nested message's field.
    """
    found: dict[str, list[str]] = {}
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        rule = options.Extensions[annotations_pb2.http]
        path = getattr(rule, rule.WhichOneof("pattern") or "get", "")
        for field_path, template in re.findall(r"\{([\w.]+)=([^}]+)\}", path):
            descriptor: Descriptor = method.input_type
            *parents, leaf = field_path.split(".")
            for parent in parents:
                descriptor = cast(Descriptor, descriptor.fields_by_name[parent].message_type)
            found.setdefault(f"{descriptor.full_name}.{leaf}", []).append(template)
    return found


class MessageStrategies:
    """Builds (and caches) a strategy per message type, knowing the names and ids to use.

    `overrides` replace the value strategy of a field, keyed by its full name
    (`trainvite.catalog.v1.Course.title`) or its plain name (`title`); for a repeated field the
    strategy draws one element.
    """

    def __init__(
        self,
        *,
        max_depth: int = 3,
        known_ids: Sequence[str] = (),
        name_templates: Mapping[str, Sequence[str]] | None = None,
        overrides: Mapping[str, SearchStrategy[Any]] | None = None,
        presence: float | None = None,
        hostile: bool = True,
    ) -> None:
        # Plausible requests carry most fields, as real callers' do.
        presence = presence if presence is not None else (0.7 if hostile else 0.9)
        self.hostile = hostile
        self.max_depth = max_depth
        self.known_ids = tuple(known_ids)
        self.name_templates = {k: list(v) for k, v in (name_templates or {}).items()}
        self.overrides = dict(overrides or {})
        # Chance that a field is set at all; the rest stay at their defaults.
        self._present = st.integers(min_value=0, max_value=99).map(lambda n: n < presence * 100)
        self._cache: dict[tuple[str, int], SearchStrategy[Message]] = {}
        # Building a strategy costs far more than drawing from it: each is built once.
        self._values: dict[tuple[str, int], SearchStrategy[Any] | None] = {}
        self._lists: dict[tuple[str, int], SearchStrategy[list[Any]]] = {}
        self._masks: dict[str, SearchStrategy[list[str]]] = {}
        self._all_templates: list[str] = sorted(
            {t for ts in self.name_templates.values() for t in ts}
        )

    def learn_files(self, files: Iterable[FileDescriptor]) -> None:
        """Take the resource patterns of these files' messages (`name` of each resource)."""
        for field_name, templates in _resource_patterns(files).items():
            self.name_templates.setdefault(field_name, []).extend(templates)
        self._all_templates = sorted({t for ts in self.name_templates.values() for t in ts})

    def learn_service(self, service: ServiceDescriptor) -> None:
        """Take the name templates of the service's http paths and its files' resources."""
        for key, templates in http_templates(service).items():
            self.name_templates.setdefault(key, []).extend(templates)
        self.learn_files([service.file, *service.file.dependencies])

    def _templates_for(self, field: FieldDescriptor) -> list[str]:
        own = self.name_templates.get(field.full_name)
        if own:
            return list(dict.fromkeys(own))
        # A field that references a resource (`course`, `parent`, `batch`, `drafts`): any known
        # template, since the names of fields do not say which.
        return self._all_templates

    def _string(self, field: FieldDescriptor) -> SearchStrategy[str]:
        if self.hostile:
            return strings(self._templates_for(field), self.known_ids)
        # Plausible values: a name only where the field is known to take one.
        own = list(dict.fromkeys(self.name_templates.get(field.full_name, [])))
        for suffix, kind in _PLAUSIBLE_BY_NAME.items():
            if not own and field.name.endswith(suffix):
                return kind
        return strings(own, self.known_ids, hostile=False)

    def value(self, field: FieldDescriptor, depth: int) -> SearchStrategy[Any] | None:
        """One value of `field` (one element when repeated); None when too deep to nest."""
        key = (field.full_name, depth)
        if key not in self._values:
            self._values[key] = self._value(field, depth)
        return self._values[key]

    def _list(self, field: FieldDescriptor, depth: int) -> SearchStrategy[list[Any]] | None:
        key = (field.full_name, depth)
        if key not in self._lists:
            element = self.value(field, depth)
            if element is None:
                return None
            self._lists[key] = _long_lists(element, hostile=self.hostile)
        return self._lists[key]

    def _mask(self, descriptor: Descriptor, field: FieldDescriptor) -> SearchStrategy[list[str]]:
        if field.full_name not in self._masks:
            siblings = [
                f.message_type
                for f in descriptor.fields
                if f.message_type is not None and f is not field
            ]
            self._masks[field.full_name] = field_mask_paths(siblings, hostile=self.hostile)
        return self._masks[field.full_name]

    def _value(self, field: FieldDescriptor, depth: int) -> SearchStrategy[Any] | None:
        for key in (field.full_name, field.name):
            if key in self.overrides:
                return self.overrides[key]
        t = field.type
        if t == FieldDescriptor.TYPE_STRING:
            return self._string(field)
        if t == FieldDescriptor.TYPE_BYTES and not self.hostile:
            return st.binary(max_size=64)
        if t == FieldDescriptor.TYPE_BYTES:
            return st.one_of(
                st.binary(max_size=64), st.sampled_from([b"", b"\x00", b"\xff" * 70_000])
            )
        if t == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if t == FieldDescriptor.TYPE_DOUBLE:
            return floats(64, hostile=self.hostile)
        if t == FieldDescriptor.TYPE_FLOAT:
            return floats(32, hostile=self.hostile)
        if t == FieldDescriptor.TYPE_ENUM:
            return enum_numbers(cast(EnumDescriptor, field.enum_type), hostile=self.hostile)
        if t in _INT_RANGES:
            return integers(_INT_RANGES[t], hostile=self.hostile)
        if t in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
            if depth >= self.max_depth:
                return None
            return self.message(cast(Descriptor, field.message_type), depth + 1)
        raise TypeError(f"unsupported field type {t} of {field.full_name}")

    def message(self, descriptor: Descriptor, depth: int = 0) -> SearchStrategy[Message]:
        """Instances of `descriptor`'s message, nested messages down to `max_depth`."""
        key = (descriptor.full_name, depth)
        if key not in self._cache:
            self._cache[key] = self._build(descriptor, depth)
        return self._cache[key]

    def _build(self, descriptor: Descriptor, depth: int) -> SearchStrategy[Message]:
        cls = GetMessageClass(descriptor)
        special = _WELL_KNOWN.get(descriptor.full_name)
        if special is not None:
            return special(self, descriptor, cls)
        # A oneof sets at most one of its members: pick which before drawing.
        oneofs = [o for o in descriptor.oneofs if not _is_synthetic(o)]
        in_oneof = {f.name for o in oneofs for f in o.fields}
        plain = [
            f
            for f in descriptor.fields
            if f.name not in in_oneof and (self.hostile or not _output_only(f))
        ]
        present = self._present
        if not descriptor.fields:
            return st.builds(cls)

        @st.composite
        def draw_message(draw: st.DrawFn) -> Message:
            message = cls()
            chosen: list[FieldDescriptor] = [f for f in plain if draw(present)]
            for o in oneofs:
                pick = draw(st.integers(min_value=-1, max_value=len(o.fields) - 1))
                if pick >= 0:
                    chosen.append(o.fields[pick])
            for field in chosen:
                self._set(draw, message, descriptor, field, depth)
            return message

        return draw_message()

    def _set(
        self,
        draw: st.DrawFn,
        message: Message,
        descriptor: Descriptor,
        field: FieldDescriptor,
        depth: int,
    ) -> None:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            self._set_map(draw, message, field, depth)
            return
        if field.message_type is not None and field.message_type.full_name == _FIELD_MASK:
            target = getattr(message, field.name)
            target.paths.extend(draw(self._mask(descriptor, field)))
            if not field.is_repeated:
                return
        element = self.value(field, depth)
        elements = self._list(field, depth) if field.is_repeated else None
        if element is None:
            return
        if elements is not None:
            values = draw(elements)
            container = getattr(message, field.name)
            if field.message_type is not None:
                for v in values:
                    container.add().CopyFrom(v)
            else:
                container.extend(values)
        elif field.message_type is not None:
            getattr(message, field.name).CopyFrom(draw(element))
        else:
            setattr(message, field.name, draw(element))

    def _set_map(
        self, draw: st.DrawFn, message: Message, field: FieldDescriptor, depth: int
    ) -> None:
        entry = cast(Descriptor, field.message_type)
        key_strategy = self.value(entry.fields_by_name["key"], depth)
        value_field = entry.fields_by_name["value"]
        value_strategy = self.value(value_field, depth)
        if key_strategy is None or value_strategy is None:
            return
        items = draw(st.lists(st.tuples(key_strategy, value_strategy), max_size=4))
        container = getattr(message, field.name)
        for k, v in items:
            if value_field.message_type is not None:
                container[k].CopyFrom(v)
            else:
                container[k] = v


_FIELD_MASK = "google.protobuf.FieldMask"

# Plausible values of fields whose names say what they hold.
_PLAUSIBLE_BY_NAME: dict[str, SearchStrategy[str]] = {
    "time_zone": st.sampled_from(
        ["America/New_York", "Europe/Paris", "Asia/Tokyo", "UTC", "Pacific/Kiritimati"]
    ),
    "_url": st.sampled_from(["https://example.com/register", "https://meet.example.com/x"]),
    "email": st.builds(
        "{}@example.com".format, st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=12)
    ),
}


def _output_only(field: FieldDescriptor) -> bool:
    """A field the server sets (`google.api.field_behavior = OUTPUT_ONLY`): callers leave it."""
    behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
    return field_behavior_pb2.OUTPUT_ONLY in behaviors


def _is_synthetic(oneof: _descriptor.OneofDescriptor) -> bool:
    # proto3 `optional` fields live in a synthetic oneof of one: they are plain fields here.
    return len(oneof.fields) == 1 and oneof.name == "_" + oneof.fields[0].name


def _time_like(
    hostile: Callable[[], SearchStrategy[tuple[int, int]]],
    plausible: Callable[[], SearchStrategy[tuple[int, int]]],
) -> Callable[[MessageStrategies, Descriptor, type[Message]], SearchStrategy[Message]]:
    def build(
        builder: MessageStrategies, _: Descriptor, cls: type[Message]
    ) -> SearchStrategy[Message]:
        fields = hostile() if builder.hostile else plausible()
        return fields.map(lambda sn: cls(seconds=sn[0], nanos=sn[1]))

    return build


def _field_mask(
    builder: MessageStrategies, _: Descriptor, cls: type[Message]
) -> SearchStrategy[Message]:
    return field_mask_paths([], hostile=builder.hostile).map(lambda paths: cls(paths=paths))


_WELL_KNOWN: dict[
    str, Callable[[MessageStrategies, Descriptor, type[Message]], SearchStrategy[Message]]
] = {
    "google.protobuf.Timestamp": _time_like(timestamps_fields, plausible_timestamps_fields),
    "google.protobuf.Duration": _time_like(durations_fields, plausible_durations_fields),
    _FIELD_MASK: _field_mask,
}


def messages(
    message: type[Message] | Descriptor,
    *,
    max_depth: int = 3,
    known_ids: Sequence[str] = (),
    name_templates: Mapping[str, Sequence[str]] | None = None,
    overrides: Mapping[str, SearchStrategy[Any]] | None = None,
    service: ServiceDescriptor | None = None,
    hostile: bool | None = None,
) -> SearchStrategy[Message]:
    """Instances of `message` (a generated class or a descriptor) with hostile and plausible values.

    Each instance is drawn either hostile (any field may hold anything above) or plausible (every
    value well-formed: names in their formats, known ids, times near now, defined enums), so that
    requests that pass validation test the code behind it too; `hostile` picks one kind only.

    known_ids: ids that exist (customers, sessions, batches), used inside resource names and as
    plain values so that some requests reach the code past the lookups.
    name_templates: full field name -> name templates such as `customers/*/invitation-batches/*`;
    the `google.api.resource` patterns of the message's file and its imports are added, and so
    are the `google.api.http` templates of `service` when given.
    overrides: full or plain field name -> strategy of one value of that field.
    """
    descriptor = _full_name_of(message)
    kinds = [False, True] if hostile is None else [hostile]
    strategies = []
    for kind in kinds:
        builder = MessageStrategies(
            max_depth=max_depth,
            known_ids=known_ids,
            name_templates=name_templates,
            overrides=overrides,
            hostile=kind,
        )
        if service is not None:
            builder.learn_service(service)
        builder.learn_files([descriptor.file, *descriptor.file.dependencies])
        strategies.append(builder.message(descriptor))
    return st.one_of(*strategies)
