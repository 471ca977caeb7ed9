"""The catalog's rules for a new session and for a CSM's search words."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.catalog.domain.model import (
    Format,
    Level,
    TrainingSession,
    parse_session_name,
    topic_query,
    validate_new_session,
)
from services.common.errors import InvalidArgument

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def session(**kw: object) -> TrainingSession:
    base: dict[str, object] = dict(
        id=uuid.uuid4(),
        title="Dashboards 101",
        start_time=NOW + dt.timedelta(days=7),
        time_zone="America/New_York",
        duration=dt.timedelta(minutes=60),
        level=Level.BEGINNER,
        format=Format.LIVE_WEBINAR,
    )
    base.update(kw)
    return TrainingSession(**base)  # type: ignore[arg-type]


def test_a_good_session_passes() -> None:
    validate_new_session(session(registration_url="https://x.dev/r"), NOW)


def test_every_bad_field_is_named_at_once() -> None:
    bad = session(
        title=" ",
        time_zone="Mars/Base",
        start_time=NOW - dt.timedelta(hours=1),
        duration=dt.timedelta(0),
        capacity=-5,
        join_url="javascript:alert(1)",
        registration_url="ftp://x",
        features=("Bad Feature",),
    )
    with pytest.raises(InvalidArgument) as err:
        validate_new_session(bad, NOW)
    assert {v.field for v in err.value.violations} == {
        "training_session.title",
        "training_session.time_zone",
        "training_session.start_time",
        "training_session.duration",
        "training_session.capacity",
        "training_session.join_url",
        "training_session.registration_url",
        "training_session.features[0]",
    }


def test_session_names() -> None:
    sid = uuid.uuid4()
    assert parse_session_name(f"training-sessions/{sid}") == sid
    for bad in ("sessions/1", "training-sessions/not-a-uuid", ""):
        with pytest.raises(InvalidArgument):
            parse_session_name(bad)


def test_noise_words_are_dropped_from_a_csms_topic() -> None:
    assert topic_query("Invite the team to Advanced Analytics training").terms == (
        "advanced",
        "analytics",
    )
    assert topic_query("training").terms == ("training",)  # nothing else to go on
