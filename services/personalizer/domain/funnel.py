"""How invitations fared, step by step: drafted, approved, sent, registered, attended; grouped
by what the personalizer chose (angle, template version), who got them (role) and when they
went out (weekday and hour in the recipient's zone, lead time before the session). No I/O here.

Each step's rate is given with its 95% Wilson score interval, which stays inside [0, 1] and
keeps its meaning for small counts and rates near 0 or 1 (where the normal approximation says
"0% ± 0" after a handful of sends). A rate over fewer than TOO_LITTLE_DATA trials says so.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The standard normal quantile for a two-sided 95% interval.
Z_95 = 1.959963984540054
# Under this many trials a rate is shown with the note that it says little yet.
TOO_LITTLE_DATA = 30

NOT_SENT = "not sent"
ALL = "all"
# Invitations sent before send times were kept: sent, but when is not known.
SEND_TIME_UNKNOWN = "send time unknown"
UNKNOWN_VERSION = "unknown"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Lead time before the session: each bucket's name and its upper bound.
LEAD_TIMES = (
    ("under 1 day", dt.timedelta(days=1)),
    ("1-3 days", dt.timedelta(days=3)),
    ("3-7 days", dt.timedelta(days=7)),
    ("1-2 weeks", dt.timedelta(days=14)),
    ("2-4 weeks", dt.timedelta(days=28)),
    ("4 weeks or more", dt.timedelta.max),
)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of successes / trials; (0, 1) when there were no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # The bounds are exact at 0 and at `trials` successes; rounding must not push them past.
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper


@dataclass(frozen=True)
class Rate:
    successes: int
    trials: int

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.trials)

    @property
    def too_little_data(self) -> bool:
        return self.trials < TOO_LITTLE_DATA


@dataclass(frozen=True)
class Invitation:
    """One invitation draft as the funnel sees it."""

    angle: str
    role: str
    template_version: str
    time_zone: str
    session_start: dt.datetime
    approved: bool
    sent: bool
    # When it was sent; None when it was not, or before send times were kept.
    sent_at: dt.datetime | None
    # The person's registration for the session, as last heard: registered, attended,
    # no_show, cancelled, or "" when nothing was heard.
    registration: str

    @property
    def registered(self) -> bool:
        """Sent, and the person took a seat (whether they then came or not)."""
        return self.sent and self.registration in ("registered", "attended", "no_show")

    @property
    def attended(self) -> bool:
        return self.sent and self.registration == "attended"


@dataclass(frozen=True)
class FunnelRow:
    key: str
    drafted: int = 0
    approved: int = 0
    sent: int = 0
    registered: int = 0
    attended: int = 0

    @property
    def approval(self) -> Rate:
        return Rate(self.approved, self.drafted)

    @property
    def delivery(self) -> Rate:
        return Rate(self.sent, self.approved)

    @property
    def registration(self) -> Rate:
        return Rate(self.registered, self.sent)

    @property
    def attendance(self) -> Rate:
        return Rate(self.attended, self.registered)

    def counting(self, i: Invitation) -> FunnelRow:
        return FunnelRow(
            self.key,
            self.drafted + 1,
            self.approved + i.approved,
            self.sent + i.sent,
            self.registered + i.registered,
            self.attended + i.attended,
        )


class Dimension(enum.Enum):
    NONE = "none"
    ANGLE = "angle"
    ROLE = "role"
    TEMPLATE_VERSION = "template_version"
    SEND_WEEKDAY = "send_weekday"
    SEND_HOUR = "send_hour"
    LEAD_TIME = "lead_time"


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC  # a zone the platform got wrong: the send time as UTC says most


def _local(i: Invitation, at: dt.datetime) -> dt.datetime:
    """The send time in the recipient's own zone."""
    return at.astimezone(_zone(i.time_zone))


def _send_time_key(i: Invitation, key: Callable[[dt.datetime], str]) -> str:
    if not i.sent:
        return NOT_SENT
    if i.sent_at is None:
        return SEND_TIME_UNKNOWN
    return key(i.sent_at)


def _lead_time(i: Invitation, sent_at: dt.datetime) -> str:
    before = i.session_start - sent_at
    return next(name for name, bound in LEAD_TIMES if before < bound)


def key_of(i: Invitation, dimension: Dimension) -> str:
    """The group an invitation falls in."""
    match dimension:
        case Dimension.NONE:
            return ALL
        case Dimension.ANGLE:
            return i.angle
        case Dimension.ROLE:
            return i.role
        case Dimension.TEMPLATE_VERSION:
            return i.template_version or UNKNOWN_VERSION
        case Dimension.SEND_WEEKDAY:
            return _send_time_key(i, lambda at: WEEKDAYS[_local(i, at).weekday()])
        case Dimension.SEND_HOUR:
            return _send_time_key(i, lambda at: f"{_local(i, at).hour:02d}")
        case Dimension.LEAD_TIME:
            return _send_time_key(i, lambda at: _lead_time(i, at))


def _order(dimension: Dimension) -> Callable[[str], tuple[int, str]]:
    """Rows in the dimension's own order (Monday first, the shortest lead time first), those
    not sent or with no known send time last."""
    known: tuple[str, ...] = ()
    if dimension is Dimension.SEND_WEEKDAY:
        known = WEEKDAYS
    elif dimension is Dimension.LEAD_TIME:
        known = tuple(name for name, _ in LEAD_TIMES)
    last = (SEND_TIME_UNKNOWN, NOT_SENT)

    def order(key: str) -> tuple[int, str]:
        if key in known:
            return known.index(key), ""
        if key in last:
            return len(known) + 1 + last.index(key), key
        return len(known), key

    return order


@dataclass(frozen=True)
class Funnel:
    dimension: Dimension
    rows: list[FunnelRow]
    total: FunnelRow


def funnel(invitations: Iterable[Invitation], dimension: Dimension) -> Funnel:
    """The funnel of these invitations, a row per group in the dimension's order."""
    rows: dict[str, FunnelRow] = {}
    total = FunnelRow(ALL)
    for i in invitations:
        key = key_of(i, dimension)
        rows[key] = rows.get(key, FunnelRow(key)).counting(i)
        total = total.counting(i)
    if dimension is Dimension.NONE:
        return Funnel(dimension, [], total)
    order = _order(dimension)
    return Funnel(dimension, sorted(rows.values(), key=lambda r: order(r.key)), total)
