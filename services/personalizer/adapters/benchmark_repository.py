"""Role benchmarks: precomputed from the platform's usage, read by gap analysis."""

from __future__ import annotations

import datetime as dt

from services.common.db import Connection
from services.common.unit_of_work import Repository
from services.personalizer.domain.gaps import RoleBenchmark

# One row per role and feature: quartiles of active days and events over every person of the
# role at a customer entitled to the feature, people who never used it counting as zero.
_REFRESH = """
WITH people AS (
    SELECT s.id, s.role, e.feature
    FROM platform.stakeholders s
    JOIN platform.entitlements e ON e.customer_id = s.customer_id
), used AS (
    SELECT u.stakeholder_id, u.feature,
           count(*) FILTER (WHERE u.events > 0) AS active_days,
           sum(u.events) AS events
    FROM platform.usage_metrics u
    WHERE u.day >= $2
    GROUP BY u.stakeholder_id, u.feature
)
INSERT INTO role_benchmarks (role, feature, window_days, peers, p25_active_days,
    median_active_days, p75_active_days, p25_events, median_events, p75_events, computed_at)
SELECT p.role, p.feature, $1, count(*),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY coalesce(u.active_days, 0)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(u.active_days, 0)),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY coalesce(u.active_days, 0)),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY coalesce(u.events, 0)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(u.events, 0)),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY coalesce(u.events, 0)),
       $3
FROM people p
LEFT JOIN used u ON u.stakeholder_id = p.id AND u.feature = p.feature
GROUP BY p.role, p.feature
"""

# Any number that is the same for every personalizer replica: one refreshes at a time.
_REFRESH_LOCK = 0x7472_6169_6E76


class PostgresBenchmarkRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def refresh(self, window_days: int, today: dt.date, now: dt.datetime) -> bool:
        """Recompute one window's benchmarks in the caller's transaction; False when another
        replica is refreshing right now."""
        if not await self._conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _REFRESH_LOCK):
            return False
        await self._conn.execute("DELETE FROM role_benchmarks WHERE window_days = $1", window_days)
        since = today - dt.timedelta(days=window_days - 1)
        await self._conn.execute(_REFRESH, window_days, since, now)
        return True

    async def computed_at(self, window_days: int) -> dt.datetime | None:
        value: dt.datetime | None = await self._conn.fetchval(
            "SELECT max(computed_at) FROM role_benchmarks WHERE window_days = $1", window_days
        )
        return value

    async def for_roles(
        self, window_days: int, roles: list[str], features: list[str]
    ) -> dict[tuple[str, str], RoleBenchmark]:
        rows = await self._conn.fetch(
            """
            SELECT * FROM role_benchmarks
            WHERE window_days = $1 AND role = ANY($2::text[]) AND feature = ANY($3::text[])
            """,
            window_days,
            roles,
            features,
        )
        return {
            (r["role"], r["feature"]): RoleBenchmark(
                median_active_days=r["median_active_days"],
                p75_active_days=r["p75_active_days"],
                median_events=r["median_events"],
                peers=r["peers"],
                p25_active_days=r["p25_active_days"],
                p25_events=r["p25_events"],
                p75_events=r["p75_events"],
            )
            for r in rows
        }
