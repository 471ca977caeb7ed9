"""IANA time zones, as every service checks them."""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@functools.cache
def _known() -> frozenset[str]:
    # Read from the zone files once: scanning them takes milliseconds on every call.
    return frozenset(available_timezones())


def is_time_zone(value: str) -> bool:
    """An IANA zone this machine knows and can load."""
    if value not in _known():
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
