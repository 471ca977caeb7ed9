"""A mailbox's budget: the rolling window, the pace, the pause after a rate-limit answer, and how
Gmail's Retry-After is read."""

from __future__ import annotations

import datetime as dt
import json

import httplib2
import pytest
from googleapiclient.errors import HttpError

from services.dispatcher.adapters.gmail import parse_retry_after, retry_after
from services.dispatcher.adapters.quota import MailboxQuota
from services.dispatcher.domain.quota import MailboxBudget, QuotaPolicy

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


class MemoryBudgets:
    """Budgets in a dict, timed by a clock the test moves (sleeping moves it too)."""

    def __init__(self) -> None:
        self.now = T0
        self.budgets: dict[str, tuple[MailboxBudget, int]] = {}
        self.slept: list[float] = []

    async def load(self, mailbox: str) -> tuple[MailboxBudget, int, dt.datetime]:
        budget, version = self.budgets.get(mailbox, (MailboxBudget(), 0))
        return budget, version, self.now

    async def store(self, mailbox: str, budget: MailboxBudget, version: int) -> bool:
        if self.budgets.get(mailbox, (None, 0))[1] != version:
            return False
        self.budgets[mailbox] = (budget, version + 1)
        return True

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)

    def seconds(self) -> float:
        return (self.now - T0).total_seconds()


def quota(store: MemoryBudgets, units: int = 300, **policy: object) -> MailboxQuota:
    return MailboxQuota(store, QuotaPolicy(units_per_window=units, **policy), sleep=store.sleep)  # type: ignore[arg-type]


async def test_calls_go_out_at_the_quotas_pace_not_in_a_burst() -> None:
    store = MemoryBudgets()
    budget = quota(store, 300)
    times = []
    for _ in range(4):
        await budget.spend("a@x", 100)
        times.append(store.seconds())
    # 300 units a minute (counted over 61 s): a 100-unit call every 61/3 s.
    assert times == pytest.approx([0, 61 / 3, 2 * 61 / 3, 61])
    at = store.seconds()
    await budget.spend("b@x", 100)  # another mailbox has its own budget
    assert store.seconds() == at
    with pytest.raises(ValueError):
        await budget.spend("a@x", 301)


async def test_a_restarted_process_waits_for_the_minute_its_predecessor_spent() -> None:
    store = MemoryBudgets()
    # The process before spent the whole minute in 60 calls of 5 units, in its first 10 seconds.
    spends = tuple((T0 + dt.timedelta(seconds=i / 6), 5) for i in range(60))
    store.budgets["a@x"] = (MailboxBudget(spends=spends), 7)
    store.now = T0 + dt.timedelta(seconds=10)
    await quota(store, 300).spend("a@x", 100)  # a fresh process with the same budget
    # 100 units fit once the oldest 20 calls (the last of them made at 19/6 s) are 61 s old.
    assert store.seconds() == pytest.approx(61 + 19 / 6)


async def test_a_pause_holds_every_call_for_retry_after_then_resumes_at_the_pace() -> None:
    store = MemoryBudgets()
    budget = quota(store, 6_100)  # 100 units a second
    await budget.spend("a@x", 100)
    until = await budget.pause("a@x", dt.timedelta(seconds=7))
    assert until == T0 + dt.timedelta(seconds=7)
    await budget.spend("a@x", 100)  # claimed before the answer: it waits too
    assert store.seconds() == pytest.approx(7)
    await budget.spend("a@x", 100)
    await budget.spend("a@x", 100)
    assert store.seconds() == pytest.approx(9)  # one a second after the pause, not a burst


async def test_without_retry_after_the_pause_is_short_and_grows_moderately_to_a_cap() -> None:
    store = MemoryBudgets()
    budget = quota(store, 6_100)
    lengths = []
    for _ in range(6):
        start = store.now
        until = await budget.pause("a@x", None)
        lengths.append((until - start).total_seconds())
        await budget.spend("a@x", 100)  # the first call after the pause is refused again
    assert lengths == pytest.approx([30, 45, 67.5, 101.25, 120, 120])
    # Another answer to a call made before the ongoing pause belongs to that pause.
    start = store.now
    await budget.pause("a@x", None)
    await budget.pause("a@x", None)
    assert store.budgets["a@x"][0].paused_until == start + dt.timedelta(seconds=120)
    # A call that goes well after the pause: the next answer starts from 30 s again.
    await budget.spend("a@x", 100)
    await budget.went_well("a@x")
    start = store.now
    assert await budget.pause("a@x", None) == start + dt.timedelta(seconds=30)


async def test_retry_after_is_honoured_exactly_even_when_longer_than_the_default_cap() -> None:
    store = MemoryBudgets()
    budget = quota(store, 6_100)
    assert await budget.pause("a@x", dt.timedelta(seconds=300)) == T0 + dt.timedelta(seconds=300)
    assert await budget.pause("b@x", dt.timedelta(seconds=2)) == T0 + dt.timedelta(seconds=2)


async def test_a_reservation_written_by_someone_else_first_is_computed_again() -> None:
    """Two processes reserving from the same budget: the one whose write finds the version
    moved on reads the budget again instead of overwriting the other's spend."""
    store = MemoryBudgets()
    other = quota(store, 300)
    loaded = store.load

    async def raced_load(mailbox: str) -> tuple[MailboxBudget, int, dt.datetime]:
        result = await loaded(mailbox)
        if not store.budgets:  # another process spends between our read and our write
            store.load = loaded  # type: ignore[method-assign]
            await other.spend(mailbox, 100)
        return result

    store.load = raced_load  # type: ignore[method-assign]
    await quota(store, 300).spend("a@x", 100)
    spent = store.budgets["a@x"][0].spends
    assert [units for _, units in spent] == [100, 100]
    assert store.seconds() == pytest.approx(61 / 3)  # the second waited for the pace


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120", T0) == dt.timedelta(seconds=120)
    assert parse_retry_after(" 0 ", T0) == dt.timedelta(0)
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:45 GMT", T0) == dt.timedelta(seconds=45)
    assert parse_retry_after("Tue, 01 Dec 2026 11:59:00 GMT", T0) == dt.timedelta(0)
    assert parse_retry_after("soon", T0) is None
    assert parse_retry_after("-5", T0) is None


def _http_error(status: int, headers: dict[str, str], message: str = "") -> HttpError:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": "x"}]}}
    return HttpError(httplib2.Response({"status": status, **headers}), json.dumps(body).encode())


def test_gmail_wait_from_the_header_else_from_the_message() -> None:
    assert retry_after(_http_error(429, {"retry-after": "17"}), T0) == dt.timedelta(seconds=17)
    said = "User-rate limit exceeded.  Retry after 2026-12-01T12:01:30.000Z"
    assert retry_after(_http_error(429, {}, said), T0) == dt.timedelta(seconds=90)
    assert retry_after(_http_error(429, {}, "Rate Limit Exceeded"), T0) is None
