"""One mailbox's budget in PostgreSQL, spent by several dispatcher processes at once: together
they stay within the mailbox's quota, and a new process starts from what the others spent."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from services.common.db import create_pool
from services.dispatcher.adapters.quota import MailboxQuota, PostgresBudgets
from services.dispatcher.domain.quota import MailboxBudget, QuotaPolicy

pytestmark = pytest.mark.integration

# 1,000 units over 2 s (counted over 3 s): ten 100-unit calls per window, one every 0.3 s.
POLICY = QuotaPolicy(units_per_window=1_000, window=dt.timedelta(seconds=2))


class RecordingBudgets(PostgresBudgets):
    """Remembers each spend it managed to write, as the database's clock timed it."""

    def __init__(
        self, pool: asyncpg.Pool[asyncpg.Record], spends: list[tuple[dt.datetime, int]]
    ) -> None:
        super().__init__(pool)
        self._spends = spends

    async def store(self, mailbox: str, budget: MailboxBudget, version: int) -> bool:
        written = await super().store(mailbox, budget, version)
        if written and budget.spends:
            self._spends.append(budget.spends[-1])
        return written


async def test_processes_sharing_a_mailbox_stay_within_its_quota_together(
    database_url: str,
) -> None:
    mailbox = f"shared-{uuid.uuid4().hex[:8]}@trainvite.dev"
    spends: list[tuple[dt.datetime, int]] = []
    pools = [await create_pool(database_url, "dispatcher", max_size=4) for _ in range(3)]
    try:
        # Three processes, four workers each, all spending from one mailbox for ~4 windows.
        quotas = [MailboxQuota(RecordingBudgets(pool, spends=spends), POLICY) for pool in pools]
        calls = 0

        async def worker(quota: MailboxQuota) -> None:
            nonlocal calls
            loop = asyncio.get_running_loop()
            end = loop.time() + 9
            while loop.time() < end:
                await quota.spend(mailbox, 100)
                calls += 1

        await asyncio.gather(*(worker(q) for q in quotas for _ in range(4)))
        # Every call's spend was written once: no two reservations took the same room.
        assert len(spends) == calls
        ordered = sorted(spends)
        window = POLICY.counted_window
        for start, _ in ordered:
            inside = sum(units for at, units in ordered if start <= at < start + window)
            assert inside <= POLICY.units_per_window, (start, inside)
        # And the mailbox was used, not starved: at least two windows' worth went out.
        assert calls >= 20

        # A process started now (a restart) finds the window spent and waits for room.
        fresh = await create_pool(database_url, "dispatcher", max_size=1)
        pools.append(fresh)
        budget, _, now = await PostgresBudgets(fresh).load(mailbox)
        assert budget.used(POLICY, now) > 0
        waits = budget.reserve(POLICY, now, 100)
        assert isinstance(waits, dt.timedelta) and waits > dt.timedelta(0)
    finally:
        for pool in pools:
            await pool.close()


async def test_a_pause_holds_every_process(database_url: str) -> None:
    mailbox = f"paused-{uuid.uuid4().hex[:8]}@trainvite.dev"
    pools = [await create_pool(database_url, "dispatcher", max_size=2) for _ in range(2)]
    try:
        one, other = (MailboxQuota(PostgresBudgets(pool), POLICY) for pool in pools)
        until = await one.pause(mailbox, dt.timedelta(seconds=1.5))
        await other.spend(mailbox, 100)
        now = await pools[1].fetchval("SELECT clock_timestamp()")
        assert now >= until  # the other process waited out the pause too
    finally:
        for pool in pools:
            await pool.close()
