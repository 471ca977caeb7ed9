"""Logistics in the recipient's own time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from services.personalizer.domain.logistics import local_logistics
from tests.unit.test_selection import SESSION


@pytest.mark.parametrize(
    ("zone", "date", "time", "abbreviation"),
    [
        ("America/New_York", "Thursday, February 4, 2027", "2:00 PM", "EST"),
        ("America/Los_Angeles", "Thursday, February 4, 2027", "11:00 AM", "PST"),
        ("Europe/London", "Thursday, February 4, 2027", "7:00 PM", "GMT"),
        ("Asia/Tokyo", "Friday, February 5, 2027", "4:00 AM", "JST"),
    ],
)
def test_start_in_the_recipients_zone(zone: str, date: str, time: str, abbreviation: str) -> None:
    when = local_logistics(SESSION, zone)
    assert (when.date, when.time, when.zone_abbreviation, when.zone_name) == (
        date,
        time,
        abbreviation,
        zone,
    )
    assert when.duration_minutes == 90
    assert when.short_date in {"Feb 4", "Feb 5"}


def test_daylight_saving_changes_the_offset_not_the_instant() -> None:
    summer = SESSION.__class__(
        **{**SESSION.__dict__, "start_time": dt.datetime(2027, 7, 1, 18, tzinfo=dt.UTC)}
    )
    when = local_logistics(summer, "America/New_York")
    assert (when.time, when.zone_abbreviation) == ("2:00 PM", "EDT")


def test_an_unknown_zone_falls_back_to_the_sessions_zone() -> None:
    assert local_logistics(SESSION, "Nowhere/Land").zone_name == "America/New_York"
