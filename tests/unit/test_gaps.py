"""Adoption levels against role peers."""

from __future__ import annotations

import pytest

from services.personalizer.domain.gaps import RoleBenchmark, Usage, classify
from services.personalizer.domain.model import AdoptionLevel

PEERS = RoleBenchmark(
    median_active_days=10, p75_active_days=12, median_events=60, peers=8, p25_active_days=6
)


@pytest.mark.parametrize(
    ("active_days", "level"),
    [
        (0, AdoptionLevel.NONE),
        (4, AdoptionLevel.LOW),
        (5, AdoptionLevel.MEDIUM),
        (12, AdoptionLevel.MEDIUM),
        (13, AdoptionLevel.HIGH),
        (19, AdoptionLevel.HIGH),
        (20, AdoptionLevel.POWER),
    ],
)
def test_level_follows_the_ratio_to_the_role_median(active_days: int, level: AdoptionLevel) -> None:
    assert classify("dashboards", Usage(active_days, active_days * 5), PEERS, 30).level is level


def test_the_explanation_carries_the_numbers() -> None:
    adoption = classify("dashboards", Usage(2, 9), PEERS, 30)
    assert adoption.gap
    assert adoption.explanation == (
        "2 active days and 9 events in 30 days; role median 10 days and 60 events "
        "(quartiles 6-12) across 8 people"
    )


def test_attended_training_on_the_feature_closes_the_gap() -> None:
    trained = classify("dashboards", Usage(2, 9), PEERS, 30, trained_by="Dashboards Fundamentals")
    assert trained.level is AdoptionLevel.LOW and not trained.gap
    assert trained.explanation.endswith("; attended Dashboards Fundamentals")


def test_use_where_role_peers_have_none_is_high_not_a_gap() -> None:
    lonely = classify("api", Usage(3, 10), RoleBenchmark(0, 0, 0, 1), 30)
    assert lonely.level is AdoptionLevel.HIGH and not lonely.gap
    assert classify("api", Usage(), None, 30).level is AdoptionLevel.NONE
