"""Each mailbox's provider quota, reserved before each call so that we run at the quota, not
over it, and rested as a whole when the provider says slow down.

The budget (units spent in the rolling window, the pace, the pause) lives in PostgreSQL in the
dispatcher's schema: a restarted process starts where the last one stopped instead of with a full
minute, and every worker of every process spends from the one budget of the mailbox. A
reservation reads the budget and writes the new one with a single compare-and-set UPDATE on its
version: two reservations computed from the same budget cannot both be written, so N processes
together stay within the mailbox's quota.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg

from services.dispatcher.domain.quota import MailboxBudget, QuotaPolicy

# A waiting call looks at the budget again at least this often: another process may have taken
# the room it was waiting for, or paused the mailbox.
LONGEST_NAP = dt.timedelta(seconds=5)


class BudgetStore(Protocol):
    async def load(self, mailbox: str) -> tuple[MailboxBudget, int, dt.datetime]:
        """The mailbox's budget, its version (0 when never stored) and the shared clock's now."""
        ...

    async def store(self, mailbox: str, budget: MailboxBudget, version: int) -> bool:
        """Write the budget if it is still at `version`; False when someone wrote first."""
        ...


class MailboxQuota:
    """Spends, pauses and resumes each mailbox's budget, kept in a BudgetStore."""

    def __init__(
        self,
        store: BudgetStore,
        policy: QuotaPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._policy = policy
        self._sleep = sleep

    async def try_spend(self, mailbox: str, units: int) -> dt.timedelta | None:
        """Record `units` if they fit the mailbox's window, pace and pause now (None), else
        how long until they might."""
        while True:
            budget, version, now = await self._store.load(mailbox)
            reserved = budget.reserve(self._policy, now, units)
            if not isinstance(reserved, MailboxBudget):
                return reserved
            if await self._store.store(mailbox, reserved, version):
                return None
            # another reservation was written first: look again

    async def spend(self, mailbox: str, units: int) -> None:
        """Wait until `units` fit the mailbox's window, pace and pause, then record them."""
        while (wait := await self.try_spend(mailbox, units)) is not None:
            await self._sleep(max(min(wait, LONGEST_NAP).total_seconds(), 0.01))

    async def pause(self, mailbox: str, retry_after: dt.timedelta | None) -> dt.datetime:
        """Rest the mailbox after a rate-limit answer; returns when it may send again."""
        while True:
            budget, version, now = await self._store.load(mailbox)
            paused = budget.pause(self._policy, now, retry_after)
            if await self._store.store(mailbox, paused, version):
                assert paused.paused_until is not None
                return paused.paused_until

    async def went_well(self, mailbox: str) -> None:
        """A call succeeded: a later rate-limit answer is the first in a row again."""
        while True:
            budget, version, now = await self._store.load(mailbox)
            after = budget.went_well(now)
            if after is budget or await self._store.store(mailbox, after, version):
                return


class PostgresBudgets:
    """Budgets in `mailbox_budgets`, timed by the database's clock, which every process shares."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def load(self, mailbox: str) -> tuple[MailboxBudget, int, dt.datetime]:
        row = await self._pool.fetchrow(
            """
            SELECT clock_timestamp() AS now, b.spent_at, b.spent_units, b.paced_until,
                   b.paused_until, b.pauses_in_a_row, b.version
            FROM (SELECT 1) AS one LEFT JOIN mailbox_budgets b ON b.mailbox = $1
            """,
            mailbox,
        )
        assert row is not None
        if row["version"] is None:
            return MailboxBudget(), 0, row["now"]
        budget = MailboxBudget(
            spends=tuple(zip(row["spent_at"], row["spent_units"], strict=True)),
            paced_until=row["paced_until"],
            paused_until=row["paused_until"],
            pauses_in_a_row=row["pauses_in_a_row"],
        )
        return budget, int(row["version"]), row["now"]

    async def store(self, mailbox: str, budget: MailboxBudget, version: int) -> bool:
        values = (
            [at for at, _ in budget.spends],
            [units for _, units in budget.spends],
            budget.paced_until,
            budget.paused_until,
            budget.pauses_in_a_row,
        )
        if version == 0:
            written = await self._pool.fetchval(
                """
                INSERT INTO mailbox_budgets (mailbox, spent_at, spent_units, paced_until,
                                             paused_until, pauses_in_a_row, version)
                VALUES ($1, $2, $3, $4, $5, $6, 1)
                ON CONFLICT (mailbox) DO NOTHING
                RETURNING true
                """,
                mailbox,
                *values,
            )
        else:
            written = await self._pool.fetchval(
                """
                UPDATE mailbox_budgets
                SET spent_at = $3, spent_units = $4, paced_until = $5, paused_until = $6,
                    pauses_in_a_row = $7, version = version + 1, updated_at = now()
                WHERE mailbox = $1 AND version = $2
                RETURNING true
                """,
                mailbox,
                version,
                *values,
            )
        return bool(written)


class NoQuota:
    """For senders without a provider quota (the local .eml outbox, an SMTP relay)."""

    async def try_spend(self, mailbox: str, units: int) -> dt.timedelta | None:
        return None

    async def spend(self, mailbox: str, units: int) -> None:
        return None

    async def pause(self, mailbox: str, retry_after: dt.timedelta | None) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + (retry_after or dt.timedelta(seconds=30))

    async def went_well(self, mailbox: str) -> None:
        return None
