"""Attendance reports as the webinar tools export them (Zoom, GoToWebinar, Teams), read into one
result per person. No I/O.

What is read:
- UTF-8 text with or without a byte order mark (UTF-16 with its mark too: Teams writes it);
  commas, or tabs when the text has more tabs than commas; quoted fields with commas and line
  breaks (Python's csv module).
- The header is the first row naming an email column and at least one other known column; rows
  before it (a report's title and summary) are not data. A later row that is a header starts a
  new section; a one-cell row before it titles the section, and sections titled as the host's
  or the panelists' are not attendees.
- Column names match whatever their case, spaces and punctuation: "Email", "Email Address",
  "User Email", "Participant ID (UPN)"...; "Join Time" / "First Join", "Leave Time" /
  "Last Leave", "Time in Session (minutes)" / "In Session Duration" / "Duration", "Attended",
  "Time Zone".
- Times: ISO 8601 (an offset or Z makes it an instant), "Mar 12, 2026 09:58:21 AM",
  "03/12/2026 09:58:21 AM", "3/12/26, 9:58:21 AM", "2026-03-12 09:58:21", each optionally
  followed by a zone ("UTC", "GMT", "+01:00", "GMT+1" or an IANA name). A time without a zone is
  read in the row's "Time Zone" column, else in `default_zone` (the session's): only the
  differences between a person's times count, so the zone matters only across a clock change.
- Durations: a number (minutes, or seconds when the column says so), "1h 10m 5s", "70 min",
  "1 hr 10 mins", "01:10:05".

Each person's minutes: the union of their rows' intervals when join and leave times are given
(re-joins summed, overlapping presences counted once), plus the durations of rows without
times. A person is a no-show when "Attended" says No on every row, or when their minutes are
known and zero; a person listed with nothing else known attended, minutes unknown (0).
Rows that cannot be read are skipped and listed with their line and the reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.catalog.domain.attendance import (
    ATTENDED,
    NO_SHOW,
    AttendanceResult,
    union_seconds,
    whole_minutes,
)
from services.catalog.domain.model import validate_registrant
from services.common.errors import InvalidArgument

MAX_REPORT_BYTES = 5 * 1024 * 1024

# Normalized column names (lower case, letters and digits only), by what they hold.
EMAIL_COLUMNS = (
    "email",
    "emailaddress",
    "useremail",
    "attendeeemail",
    "participantemail",
    "registrantemail",
    "mail",
    "participantidupn",
    "upn",
    "participant",
)
_COLUMNS = {
    "join": ("jointime", "firstjoin", "firstjointime", "timejoined", "joined", "entrytime"),
    "leave": ("leavetime", "lastleave", "lastleavetime", "timeleft", "left", "exittime"),
    "duration": (
        "timeinsessionminutes",
        "insessionduration",
        "insessiondurationminutes",
        "inmeetingduration",
        "attendanceduration",
        "durationminutes",
        "durationseconds",
        "duration",
        "timeinsession",
        "totalduration",
        "minutes",
    ),
    "attended": ("attended", "attendedyesno"),
    "zone": ("timezone", "zone"),
}
_KNOWN = frozenset(EMAIL_COLUMNS).union(*_COLUMNS.values())
# Titles of sections whose people run the webinar rather than attend it.
_STAFF_SECTION = re.compile(r"\b(host|panelist|presenter|organi[sz]er)s?\b", re.IGNORECASE)


def normalize(name: str) -> str:
    """A column name without case, spaces or punctuation: "Time in Session (minutes)" ->
    "timeinsessionminutes"."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True)
class SkippedRow:
    line: int
    reason: str


@dataclass
class _Person:
    intervals: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    seconds: float = 0.0
    timed: bool = False  # a time or a duration was given
    said_yes: bool = False
    said_no: bool = False


@dataclass(frozen=True)
class ReadReport:
    results: list[AttendanceResult]
    skipped: list[SkippedRow]


@dataclass(frozen=True)
class _Header:
    email: int
    columns: dict[str, int]
    seconds: bool  # the duration column counts seconds
    staff: bool  # a section of hosts or panelists


def _decode(report: bytes) -> str:
    encoding = "utf-16" if report[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return report.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InvalidArgument.single(
            "report", f"is not UTF-8 text (byte {exc.start} cannot be read)"
        ) from exc


def _header(cells: list[str], title: str) -> _Header | None:
    names = [normalize(c) for c in cells]
    email = next((names.index(n) for n in EMAIL_COLUMNS if n in names), None)
    if email is None or sum(n in _KNOWN for n in names) < 2:
        return None
    columns: dict[str, int] = {}
    for what, candidates in _COLUMNS.items():
        found = next((names.index(n) for n in candidates if n in names), None)
        if found is not None:
            columns[what] = found
    duration = columns.get("duration")
    seconds = duration is not None and "second" in names[duration]
    return _Header(email, columns, seconds, bool(_STAFF_SECTION.search(title)))


_TIME_FORMATS = (
    "%b %d, %Y %I:%M:%S %p",
    "%b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%y, %I:%M:%S %p",
    "%m/%d/%y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
)
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")


def _zone(text: str) -> dt.tzinfo | None:
    """A zone as written after a time or in a zone column; None if not one we read."""
    text = text.strip()
    if text.upper() in ("UTC", "GMT", "Z"):
        return dt.UTC
    offset = _OFFSET.match(text.upper())
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = dt.timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
        return dt.timezone(sign * delta) if delta < dt.timedelta(hours=15) else None
    if "/" in text or text.isalpha():
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return None
    return None


def parse_time(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    """An instant from one of the forms the module lists; None when it is none of them."""
    text = " ".join(text.split())
    if not text:
        return None
    try:
        iso = dt.datetime.fromisoformat(text)
    except ValueError:
        iso = None
    if iso is not None:
        return iso if iso.tzinfo is not None else iso.replace(tzinfo=zone)
    candidates: list[tuple[str, dt.tzinfo]] = [(text, zone)]
    head, _, tail = text.rpartition(" ")
    given = _zone(tail) if head else None
    if given is not None:
        candidates.append((head, given))
    for value, in_zone in candidates:
        for fmt in _TIME_FORMATS:
            try:
                found = dt.datetime.strptime(value, fmt)
            except ValueError:
                continue
            return found.replace(tzinfo=in_zone)
    return None


_UNITS = {"h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_UNITS |= {"m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60}
_UNITS |= {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_CLOCK = re.compile(r"^(\d+):(\d{2})(?::(\d{2}))?$")


def parse_duration(text: str, seconds_unit: bool = False) -> float | None:
    """Seconds from the forms the module lists; None when it is none of them."""
    text = text.strip().lower()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or number < 0:
            return None
        return number if seconds_unit else number * 60
    clock = _CLOCK.match(text)
    if clock:
        h, m, s = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        return float(h * 3600 + m * 60 + s) if clock.group(3) else float(h * 60 + m) * 60
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text).strip(" ,"):
        return None
    total = 0.0
    for amount, unit in parts:
        if unit not in _UNITS:
            return None
        total += float(amount) * _UNITS[unit]
    return total


def _yes_no(text: str) -> bool | None:
    value = text.strip().lower()
    if value in ("yes", "y", "true", "1", "attended"):
        return True
    if value in ("no", "n", "false", "0", "absent", "did not attend"):
        return False
    return None


# What reports write in a cell that has nothing to say (Zoom: "--" for who never joined).
_NOTHING = frozenset({"-", "--", "n/a", "na", "none"})


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    value = cells[index].strip()
    return "" if value.lower() in _NOTHING else value


def _delimiter(text: str) -> str:
    sample = text[:65536]
    return "\t" if sample.count("\t") > sample.count(",") else ","


def read_report(report: bytes, default_zone: dt.tzinfo) -> ReadReport:
    """One result per person in the report, and every row skipped with its reason.

    InvalidArgument naming `report` when it is too big, not text, not CSV, or has no
    recognisable email column.
    """
    if len(report) > MAX_REPORT_BYTES:
        raise InvalidArgument.single(
            "report", f"is {len(report)} bytes; at most {MAX_REPORT_BYTES} (5 MiB) are read"
        )
    text = _decode(report)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header: _Header | None = None
    title = ""
    people: dict[str, _Person] = defaultdict(_Person)
    skipped: list[SkippedRow] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            found = _header(cells, title)
            if found is not None:
                header = found
                continue
            single = sum(bool(c.strip()) for c in cells) == 1
            if header is None or (single and not _cell(cells, header.email)):
                # A report's title and summary before the header, or a section's title.
                if header is not None:
                    skipped.append(SkippedRow(start, "a section title, not a participant"))
                title = " ".join(c.strip() for c in cells if c.strip())
                continue
            reason = _read_row(cells, header, default_zone, people)
            if reason:
                skipped.append(SkippedRow(start, reason))
    except csv.Error as exc:
        raise InvalidArgument.single(
            "report", f"line {reader.line_num}: not CSV as exported ({exc})"
        ) from exc
    if header is None:
        raise InvalidArgument.single(
            "report",
            "has no email column: a header row with a column such as 'Email' or"
            " 'Email Address' is needed to know who attended",
        )
    return ReadReport([_result(email, p) for email, p in sorted(people.items())], skipped)


def _read_row(
    cells: list[str], header: _Header, default_zone: dt.tzinfo, people: dict[str, _Person]
) -> str:
    """Add one row to its person; the reason it cannot be read, else ""."""
    if header.staff:
        return "a host or panelist, not an attendee"
    raw = _cell(cells, header.email)
    if not raw:
        return "no email address"
    try:
        email = validate_registrant(raw)
    except InvalidArgument:
        return f"{raw[:80]!r} is not an email address"
    columns = header.columns
    zone = default_zone
    zone_text = _cell(cells, columns.get("zone"))
    if zone_text:
        given = _zone(zone_text)
        if given is None:
            return f"time zone {zone_text[:60]!r} is not one we read"
        zone = given
    attended_text = _cell(cells, columns.get("attended"))
    attended = _yes_no(attended_text) if attended_text else None
    if attended_text and attended is None:
        return f"attended {attended_text[:20]!r} is neither yes nor no"
    join_text, leave_text = _cell(cells, columns.get("join")), _cell(cells, columns.get("leave"))
    duration_text = _cell(cells, columns.get("duration"))
    interval: tuple[dt.datetime, dt.datetime] | None = None
    seconds: float | None = None
    problem = ""
    if join_text and leave_text:
        joined, left = parse_time(join_text, zone), parse_time(leave_text, zone)
        if joined is None or left is None:
            bad = join_text if joined is None else leave_text
            problem = f"time {bad[:40]!r} is not a time we read"
        elif left < joined:
            problem = "leave time is before join time"
        else:
            interval = (joined, left)
    if interval is None and duration_text:
        seconds = parse_duration(duration_text, header.seconds)
        if seconds is None:
            problem = problem or f"duration {duration_text[:40]!r} is not a duration we read"
        else:
            problem = ""  # the duration says what the times could not
    if problem and attended is not False:
        return problem
    person = people[email]
    if interval is not None:
        person.intervals.append(interval)
        person.timed = True
    elif seconds is not None:
        person.seconds += seconds
        person.timed = True
    if attended is True:
        person.said_yes = True
    elif attended is False:
        person.said_no = True
    return ""


def _result(email: str, p: _Person) -> AttendanceResult:
    minutes = whole_minutes(union_seconds(p.intervals) + p.seconds)
    if (p.said_no and not p.said_yes) or (p.timed and minutes == 0 and not p.said_yes):
        return AttendanceResult(email, NO_SHOW)
    return AttendanceResult(email, ATTENDED, minutes)
