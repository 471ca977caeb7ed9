"""How long and how hard the fault scenarios run: CHAOS_PROFILE=short (default, `make test`) or
long (`make chaos`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class ChaosProfile:
    name: str
    # Each round: a PostgreSQL restart, a NATS restart, and `kills_per_round` SIGKILLs of each
    # service, with `gap_seconds` of steady flow between faults.
    rounds: int
    kills_per_round: int
    gap_seconds: float
    outage_seconds: float
    customers: int
    people_per_customer: int
    # One customer's batch drafted, edited and approved every `pace_seconds`.
    pace_seconds: float
    attendance_interval_seconds: float


PROFILES = {
    "short": ChaosProfile(
        name="short",
        rounds=1,
        kills_per_round=2,
        gap_seconds=3.0,
        outage_seconds=5.0,
        customers=60,
        people_per_customer=6,
        pace_seconds=1.0,
        attendance_interval_seconds=0.2,
    ),
    "long": ChaosProfile(
        name="long",
        rounds=5,
        kills_per_round=2,
        gap_seconds=8.0,
        outage_seconds=8.0,
        customers=400,
        people_per_customer=6,
        pace_seconds=1.0,
        attendance_interval_seconds=0.2,
    ),
}


@pytest.fixture
def chaos_profile() -> ChaosProfile:
    return PROFILES[os.environ.get("CHAOS_PROFILE", "short")]
