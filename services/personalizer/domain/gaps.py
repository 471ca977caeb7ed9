"""Adoption of a feature by one person, judged against the people in the same role."""

from __future__ import annotations

from dataclasses import dataclass

from services.personalizer.domain.model import AdoptionLevel

# Ratios of a person's active days to the role median that separate the levels.
LOW_BELOW = 0.5
MEDIUM_BELOW = 1.25
HIGH_BELOW = 2.0


@dataclass(frozen=True)
class Usage:
    """What one person did with one feature in the window."""

    active_days: int = 0
    events: int = 0


@dataclass(frozen=True)
class RoleBenchmark:
    """The same role's usage of a feature across all customers entitled to it."""

    median_active_days: float
    p75_active_days: float
    median_events: float
    peers: int
    p25_active_days: float = 0.0
    p25_events: float = 0.0
    p75_events: float = 0.0


@dataclass(frozen=True)
class FeatureAdoption:
    feature: str
    level: AdoptionLevel
    active_days: int
    events: int
    role_median_active_days: float
    role_median_events: float
    explanation: str
    role_p25_active_days: float = 0.0
    role_p75_active_days: float = 0.0
    role_peers: int = 0
    # The training the person attended on this feature, if any: it counts.
    trained_by: str = ""

    @property
    def gap(self) -> bool:
        """Training would help: below the role's middle, and not trained on it already."""
        return self.level <= AdoptionLevel.LOW and not self.trained_by


def _num(value: float) -> str:
    return f"{value:g}"


def classify(
    feature: str,
    usage: Usage,
    benchmark: RoleBenchmark | None,
    window_days: int,
    trained_by: str = "",
) -> FeatureAdoption:
    """Level from the ratio of active days to the role median, with the numbers behind it."""
    median = benchmark.median_active_days if benchmark else 0.0
    median_events = benchmark.median_events if benchmark else 0.0
    if usage.active_days == 0:
        level = AdoptionLevel.NONE
    elif median <= 0:
        level = AdoptionLevel.HIGH  # used, where role peers do not
    else:
        ratio = usage.active_days / median
        if ratio < LOW_BELOW:
            level = AdoptionLevel.LOW
        elif ratio < MEDIUM_BELOW:
            level = AdoptionLevel.MEDIUM
        elif ratio < HIGH_BELOW:
            level = AdoptionLevel.HIGH
        else:
            level = AdoptionLevel.POWER
    explanation = (
        f"{usage.active_days} active days and {usage.events} events in {window_days} days; "
        f"role median {_num(median)} days and {_num(median_events)} events"
        + (
            f" (quartiles {_num(benchmark.p25_active_days)}-{_num(benchmark.p75_active_days)})"
            f" across {benchmark.peers} people"
            if benchmark
            else " (no role peers)"
        )
        + (f"; attended {trained_by}" if trained_by else "")
    )
    return FeatureAdoption(
        feature=feature,
        level=level,
        active_days=usage.active_days,
        events=usage.events,
        role_median_active_days=median,
        role_median_events=median_events,
        explanation=explanation,
        role_p25_active_days=benchmark.p25_active_days if benchmark else 0.0,
        role_p75_active_days=benchmark.p75_active_days if benchmark else 0.0,
        role_peers=benchmark.peers if benchmark else 0,
        trained_by=trained_by,
    )
