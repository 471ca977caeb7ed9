"""A mailbox's quota over a rolling minute."""

from __future__ import annotations

import asyncio

import pytest

from services.dispatcher.adapters.quota import SenderQuota
from services.dispatcher.domain.model import backoff_delay


async def test_calls_wait_until_they_fit_the_rolling_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    budget = SenderQuota(300, clock=lambda: now[0])
    for _ in range(3):
        await budget.spend("a@x", 100)  # 300 units: the whole minute's quota at once
    assert slept == []
    await budget.spend("b@x", 100)  # another mailbox has its own quota
    assert slept == []
    now[0] = 10.0
    await budget.spend("a@x", 100)  # waits until the first call is a minute old
    assert now[0] == pytest.approx(61.0)  # a minute and the margin
    with pytest.raises(ValueError):
        await budget.spend("a@x", 301)


def test_backoff_doubles_up_to_five_minutes_with_jitter() -> None:
    assert backoff_delay(0, 1.0).total_seconds() == 2
    assert backoff_delay(3, 1.0).total_seconds() == 16
    assert backoff_delay(20, 1.0).total_seconds() == 300
    assert backoff_delay(3, 0.0).total_seconds() == 8
