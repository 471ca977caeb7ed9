"""Attendance from the webinar tools: their activity pieced into who attended for how long and
who did not come. Results leave as AttendanceRecorded through the outbox; the catalog's own
attendance consumer then moves the registrations, like every other attendance fact."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from services.catalog.domain.attendance import (
    ATTENDED,
    ENDED,
    REGISTERED,
    AttendanceResult,
    RecordedResult,
    WebinarActivity,
    closest_session,
    ensure_plausible,
    webinar_results,
)
from services.catalog.domain.attendance_report import MAX_REPORT_BYTES, SkippedRow, read_report
from services.catalog.domain.model import NO_SHOW as NO_SHOW_STATE
from services.catalog.domain.model import REGISTERED as REGISTERED_STATE
from services.catalog.domain.model import (
    WAITLISTED,
    Registration,
    ScheduledSession,
    SessionState,
)
from services.catalog.domain.names import parse_session_name
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.sessions import scheduled_session
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations

# Registrations that make a person expected: one who never joins is a no-show.
_EXPECTED = frozenset({REGISTERED_STATE, WAITLISTED, NO_SHOW_STATE})


async def publish_results(
    uow: CatalogUnitOfWork,
    scheduled: ScheduledSession,
    results: Iterable[AttendanceResult],
    source: str,
    registrations: Iterable[Registration],
    now: dt.datetime,
    activity: WebinarActivity | None = None,
) -> list[RecordedResult]:
    """Record the results not published before for the session (with each person's
    invitation when their registration has one); what was new."""
    sheet = await uow.attendance.sheet(scheduled.session.id)
    invitations = {r.email: r.invitation for r in registrations if r.invitation}
    registered_at = activity.occur_time if activity else None
    new = sheet.publish(results, source, invitations, now, registered_at)
    await uow.attendance.save(sheet)
    return new


async def record_webinar_activity(deps: Dependencies, activity: WebinarActivity) -> bool:
    """Keep one webinar activity and publish what it changes; False for a repeated one.

    The activity belongs to the session naming its webinar (of several, the one closest in
    time). A registration is published at once; once the webinar has ended, every activity
    works out attendance again from all of them, and publishes each result not published
    before. NotFound for a webinar no session names, FailedPrecondition for activity that
    cannot belong to the session (see `ensure_plausible`).
    """
    now = deps.clock()
    async with deps.uow() as uow:
        candidates = await uow.sessions.with_webinar(activity.webinar_id, for_update=True)
        if not candidates:
            raise NotFound(f"no training session has webinar id {activity.webinar_id!r}")
        scheduled = closest_session(candidates, activity.occur_time)
        ensure_plausible(activity, scheduled, now)
        if not await uow.first_time(activity.event_id):
            return False
        session_id = scheduled.session.id
        await uow.attendance.add_activity(session_id, activity)
        results: list[AttendanceResult] = []
        if activity.kind == REGISTERED:
            results.append(AttendanceResult(activity.email, REGISTERED))
        # Joins and leaves are only kept until the webinar ends: reading every activity again
        # for each of them would cost the square of a large webinar's activity.
        ended = activity.kind == ENDED or await uow.attendance.has_ended(session_id)
        if results or ended:
            if ended:
                registrations = await uow.registrations.of_session(session_id)
                expected = [r.email for r in registrations if r.state in _EXPECTED]
                activities = await uow.attendance.activities(session_id)
                results += webinar_results(activities, expected)
            else:
                # A registration before the end needs only that person's invitation: reading
                # everyone's would cost a large webinar's registrations the square of them.
                mine = await uow.registrations.get(session_id, activity.email)
                registrations = [mine] if mine is not None else []
            await publish_results(
                uow, scheduled, results, activity.source, registrations, now, activity
            )
        await uow.commit()
    return True


DEFAULT_REPORT_SOURCE = "attendance-report"
_SOURCE = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")


@dataclass(frozen=True)
class ImportedReport:
    """People the report says attended and missed the session, and the rows it skipped."""

    attended: int
    no_show: int
    skipped: list[SkippedRow]


async def import_report(
    deps: Dependencies, training_session: str, report: bytes, source: str
) -> ImportedReport:
    """Read a webinar tool's attendance report for a session that has started and publish one
    result per person (see `domain.attendance_report`). Results have deterministic ids: the
    same file again publishes nothing new."""
    v = Violations()
    session_id = None
    try:
        session_id = parse_session_name(training_session, "training_session")
    except InvalidArgument as exc:
        v.extend(exc)
    if not report:
        v.add("report", "is empty: give the report file as the webinar tool exported it")
    elif len(report) > MAX_REPORT_BYTES:
        v.add("report", f"is {len(report)} bytes; at most {MAX_REPORT_BYTES} (5 MiB) are read")
    tool = source.strip().lower() or DEFAULT_REPORT_SOURCE
    if not _SOURCE.fullmatch(tool):
        v.add("source", "must be a tool's name such as zoom, teams or gotowebinar")
    v.raise_if_any()
    assert session_id is not None
    now = deps.clock()
    async with deps.uow() as uow:
        scheduled = await scheduled_session(uow, session_id, training_session, for_update=True)
        if scheduled.session.state is SessionState.CANCELLED:
            raise FailedPrecondition(f"{training_session} was cancelled: nobody attended it")
        if scheduled.session.start_time > now:
            raise FailedPrecondition(
                f"{training_session} starts at {scheduled.session.start_time.isoformat()}:"
                " attendance is known once it has started"
            )
        read = read_report(report, ZoneInfo(scheduled.session.time_zone))
        registrations = await uow.registrations.of_session(session_id)
        await publish_results(uow, scheduled, read.results, tool, registrations, now)
        await uow.commit()
    attended = sum(r.kind == ATTENDED for r in read.results)
    return ImportedReport(attended, len(read.results) - attended, read.skipped)
