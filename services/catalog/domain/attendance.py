"""Attendance pieced together from a webinar tool's joins and leaves, or read from its report.
No I/O.

A webinar tool tells the catalog who registered, each join and leave of each participant's
presence, and when the webinar ended. Once it has ended, each person who joined attended for the
union of their presences (re-joins summed, two devices at once counted once; a join with no
leave lasts until the end), and each person registered who never joined is a no-show. Results
have deterministic ids over (session, email, kind, minutes): worked out again from the same
facts a result is the same event, published once; a different result is a new event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from services.catalog.domain.events import AttendanceRecorded
from services.catalog.domain.model import ScheduledSession
from services.common.attendance import CLOCK_SKEW
from services.common.domain import Aggregate
from services.common.errors import FailedPrecondition

REGISTERED = "registered"
JOINED = "joined"
LEFT = "left"
ENDED = "ended"
ACTIVITY_KINDS = frozenset({REGISTERED, JOINED, LEFT, ENDED})

ATTENDED = "attended"
NO_SHOW = "no_show"

# Hosts open a webinar early and attendees wait in its lobby, but an hour before the session's
# start nobody can be in it: activity that early belongs to another occurrence or is wrong.
EARLIEST_BEFORE_START = dt.timedelta(hours=1)

# Fixed, so that a result's id is the same in every process and every run.
_RESULT_IDS = uuid.UUID("5b0e6b2a-3c51-4f0e-9a55-0d6f1f0c7a11")


@dataclass(frozen=True)
class WebinarActivity:
    """One verified webhook of a webinar tool, as the edge translated it."""

    event_id: uuid.UUID
    occur_time: dt.datetime
    source: str
    webinar_id: str
    kind: str  # one of ACTIVITY_KINDS
    email: str = ""  # lower case; empty for ENDED
    participant_id: str = ""
    webinar_instance: str = ""


@dataclass(frozen=True)
class AttendanceResult:
    """What one person did: registered, attended (with minutes) or missed the session."""

    email: str
    kind: str  # REGISTERED, ATTENDED or NO_SHOW
    minutes: int = 0

    def event_id(self, training_session: str) -> uuid.UUID:
        """The same for the same result, whoever works it out and however often."""
        key = f"{training_session}|{self.email}|{self.kind}|{self.minutes}"
        return uuid.uuid5(_RESULT_IDS, key)


def whole_minutes(seconds: float) -> int:
    """Minutes rounded to the nearest (half up); a presence of a few seconds is one minute, so
    that someone who joined never reads as zero minutes."""
    if seconds <= 0:
        return 0
    return max(1, int((seconds + 30) // 60))


def union_seconds(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> float:
    """Seconds covered by the intervals, overlaps counted once."""
    total = 0.0
    current: tuple[dt.datetime, dt.datetime] | None = None
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def presences(
    activities: Iterable[WebinarActivity], end: dt.datetime
) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    """Per email, the intervals of each of its presences, cut at `end`.

    A participant's joins and leaves pair up in time order (a join at the same instant as a
    leave comes first); a second join while present and a leave while absent say nothing new;
    a presence still open at the end lasts until it.
    """
    moves: dict[tuple[str, str], list[WebinarActivity]] = defaultdict(list)
    for a in activities:
        if a.kind in (JOINED, LEFT) and a.email:
            moves[(a.email, a.participant_id or a.email)].append(a)
    found: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for (email, _), steps in moves.items():
        steps.sort(key=lambda a: (a.occur_time, a.kind != JOINED))
        opened: dt.datetime | None = None
        joined = False
        for step in steps:
            if step.kind == JOINED:
                joined = True
                if opened is None:
                    opened = min(step.occur_time, end)
            elif opened is not None:
                found[email].append((opened, min(step.occur_time, end)))
                opened = None
        if opened is not None:
            found[email].append((opened, end))
        elif joined and email not in found:
            found[email] = []
    return dict(found)


def webinar_results(
    activities: Sequence[WebinarActivity], registered: Collection[str]
) -> list[AttendanceResult]:
    """Once the webinar has ended (an ENDED seen; the latest counts), who attended for how many
    minutes and who, registered in the catalog (`registered`) or in the tool, never joined.
    Nothing before the end: until then nobody can be called a no-show."""
    ends = [a.occur_time for a in activities if a.kind == ENDED]
    if not ends:
        return []
    present = presences(activities, max(ends))
    results = [
        AttendanceResult(email, ATTENDED, whole_minutes(union_seconds(intervals)))
        for email, intervals in sorted(present.items())
    ]
    signed_up = set(registered) | {a.email for a in activities if a.kind == REGISTERED and a.email}
    results += [AttendanceResult(email, NO_SHOW) for email in sorted(signed_up - present.keys())]
    return results


def closest_session(candidates: Sequence[ScheduledSession], at: dt.datetime) -> ScheduledSession:
    """Of the sessions sharing one webinar (a recurring webinar), the one whose time is closest
    to `at`: zero inside it, else the distance to its start or end."""

    def distance(s: ScheduledSession) -> dt.timedelta:
        start, end = s.session.start_time, s.end_time
        if at < start:
            return start - at
        if at > end:
            return at - end
        return dt.timedelta(0)

    return min(candidates, key=lambda s: (distance(s), s.session.start_time))


def ensure_plausible(
    activity: WebinarActivity, scheduled: ScheduledSession, now: dt.datetime
) -> None:
    """FailedPrecondition for activity that cannot belong to the session: a join, leave or end
    more than EARLIEST_BEFORE_START before it starts, or an end of a session that has not
    started by the catalog's clock (give or take CLOCK_SKEW, as for any attendance fact).
    Registering ahead is what people do: always plausible."""
    if activity.kind == REGISTERED:
        return
    start = scheduled.session.start_time
    name = scheduled.session.name
    if activity.occur_time < start - EARLIEST_BEFORE_START:
        raise FailedPrecondition(
            f"{activity.kind} at {activity.occur_time.isoformat()} is more than an hour before"
            f" {name} starts ({start.isoformat()})"
        )
    if activity.kind == ENDED and start > now + CLOCK_SKEW:
        raise FailedPrecondition(
            f"webinar {activity.webinar_id} ended, but {name} starts at {start.isoformat()}"
            " and has not started yet"
        )


@dataclass(frozen=True)
class RecordedResult:
    event_id: uuid.UUID
    result: AttendanceResult
    source: str
    # The AttendanceRecorded's time: see SessionAttendance.publish.
    occur_time: dt.datetime


# Two results of one session are never stamped alike: the later is at least this much later.
_STAMP_STEP = dt.timedelta(microseconds=1)


@dataclass(eq=False)
class SessionAttendance(Aggregate):
    """The attendance results published for one session: a result not published before is
    recorded as an AttendanceRecorded, one published before changes nothing."""

    occurrence_id: uuid.UUID
    training_session: str
    published: set[uuid.UUID] = field(default_factory=set)
    # The time the session's latest attended or no-show result was stamped with.
    last_stamp: dt.datetime | None = None
    new: list[RecordedResult] = field(default_factory=list)

    def publish(
        self,
        results: Iterable[AttendanceResult],
        source: str,
        invitations: Mapping[str, str],
        now: dt.datetime,
        registered_at: dt.datetime | None = None,
    ) -> list[RecordedResult]:
        """Record each result not published before; what was new.

        A registration carries when it happened (`registered_at`, the webinar tool's time, else
        `now`): it is ordered against the person's other registration changes. An attended or
        no-show result carries when it was worked out, later than every result of the session
        before it whatever the clock of the replica at work: a result worked out again from
        more activity (a leave heard after the end) supersedes the earlier one wherever they
        are applied and in whatever order they arrive.
        """
        recorded: list[RecordedResult] = []
        stamp = now if self.last_stamp is None else max(now, self.last_stamp + _STAMP_STEP)
        for result in results:
            event_id = result.event_id(self.training_session)
            if event_id in self.published:
                continue
            self.published.add(event_id)
            if result.kind == REGISTERED:
                occur_time = registered_at or now
            else:
                occur_time = self.last_stamp = stamp
            entry = RecordedResult(event_id, result, source, occur_time)
            recorded.append(entry)
            self.record(
                AttendanceRecorded(
                    event_id=event_id,
                    training_session=self.training_session,
                    email=result.email,
                    kind=result.kind,
                    source=source,
                    minutes_attended=result.minutes,
                    invitation=invitations.get(result.email, ""),
                    occur_time=occur_time,
                )
            )
        self.new.extend(recorded)
        return recorded
