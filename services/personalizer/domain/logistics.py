"""Session logistics as one recipient reads them: in their own time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from services.personalizer.domain.model import SessionInfo

FORMAT_LABELS = {
    "live_webinar": "Live webinar with Q&A",
    "in_person": "In person",
    "on_demand": "On demand",
}


@dataclass(frozen=True)
class LocalLogistics:
    """Date and time of a session in the recipient's zone, ready for a template."""

    date: str  # "Thursday, February 4, 2027"
    short_date: str  # "Feb 4"
    time: str  # "2:00 PM"
    zone_abbreviation: str  # "EST"
    zone_name: str  # "America/New_York"
    duration_minutes: int
    format_label: str


def _time_text(value: dt.datetime) -> str:
    return value.strftime("%I:%M %p").lstrip("0")


def local_logistics(session: SessionInfo, time_zone: str) -> LocalLogistics:
    """The session's start in `time_zone` (falls back to the session's own zone if unknown)."""
    try:
        zone = ZoneInfo(time_zone)
        zone_name = time_zone
    except (KeyError, ValueError):
        zone = ZoneInfo(session.time_zone)
        zone_name = session.time_zone
    local = session.start_time.astimezone(zone)
    return LocalLogistics(
        date=f"{local:%A, %B} {local.day}, {local.year}",
        short_date=f"{local:%b} {local.day}",
        time=_time_text(local),
        zone_abbreviation=local.tzname() or zone_name,
        zone_name=zone_name,
        duration_minutes=int(session.duration.total_seconds() // 60),
        format_label=FORMAT_LABELS.get(session.format, session.format),
    )
