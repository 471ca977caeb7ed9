"""Read-only access to the platform's inputs (schema `platform`)."""

from __future__ import annotations

import datetime as dt

from services.common.db import Connection
from services.personalizer.domain.gaps import RoleBenchmark, Usage
from services.personalizer.domain.model import Customer, Stakeholder


class PlatformRepository:
    """Customers, stakeholders, usage and role benchmarks."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def customer(self, customer_id: str) -> Customer | None:
        row = await self._conn.fetchrow(
            """
            SELECT c.id, c.display_name, c.csm_email, c.csm_name, c.csm_signature,
                   coalesce(array_agg(e.feature) FILTER (WHERE e.feature IS NOT NULL), '{}')
                       AS entitlements
            FROM platform.customers c
            LEFT JOIN platform.entitlements e ON e.customer_id = c.id
            WHERE c.id = $1
            GROUP BY c.id
            """,
            customer_id,
        )
        if row is None:
            return None
        names = await self._conn.fetch("SELECT key, display_name FROM platform.features")
        return Customer(
            id=row["id"],
            display_name=row["display_name"],
            csm_email=row["csm_email"],
            csm_name=row["csm_name"],
            csm_signature=row["csm_signature"],
            entitlements=frozenset(row["entitlements"]),
            feature_names={r["key"]: r["display_name"] for r in names},
        )

    async def stakeholders(self, customer_id: str) -> list[Stakeholder]:
        rows = await self._conn.fetch(
            """
            SELECT id, customer_id, display_name, email, role, title, time_zone, opted_out
            FROM platform.stakeholders WHERE customer_id = $1 ORDER BY display_name, id
            """,
            customer_id,
        )
        return [Stakeholder(**dict(r)) for r in rows]

    async def usage(
        self, stakeholder_ids: list[str], features: list[str], since: dt.date
    ) -> dict[tuple[str, str], Usage]:
        """(stakeholder, feature) -> usage from `since` on; the key's index serves the scan."""
        rows = await self._conn.fetch(
            """
            SELECT stakeholder_id, feature,
                   count(*) FILTER (WHERE events > 0) AS active_days,
                   coalesce(sum(events), 0) AS events
            FROM platform.usage_metrics
            WHERE stakeholder_id = ANY($1::text[]) AND feature = ANY($2::text[]) AND day >= $3
            GROUP BY stakeholder_id, feature
            """,
            stakeholder_ids,
            features,
            since,
        )
        return {
            (r["stakeholder_id"], r["feature"]): Usage(r["active_days"], r["events"]) for r in rows
        }

    async def role_benchmarks(
        self, roles: list[str], features: list[str], since: dt.date
    ) -> dict[tuple[str, str], RoleBenchmark]:
        """(role, feature) -> median and upper quartile across every customer entitled to it.

        People who never used the feature count as zero: they are part of the role's reality.
        """
        rows = await self._conn.fetch(
            """
            WITH people AS (
                SELECT s.id, s.role, e.feature
                FROM platform.stakeholders s
                JOIN platform.entitlements e ON e.customer_id = s.customer_id
                WHERE s.role = ANY($1::text[]) AND e.feature = ANY($2::text[])
            ), used AS (
                SELECT u.stakeholder_id, u.feature,
                       count(*) FILTER (WHERE u.events > 0) AS active_days,
                       sum(u.events) AS events
                FROM platform.usage_metrics u
                WHERE u.stakeholder_id IN (SELECT id FROM people)
                  AND u.feature = ANY($2::text[]) AND u.day >= $3
                GROUP BY u.stakeholder_id, u.feature
            )
            SELECT p.role, p.feature, count(*) AS peers,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(u.active_days, 0))
                       AS median_active_days,
                   percentile_cont(0.75) WITHIN GROUP (ORDER BY coalesce(u.active_days, 0))
                       AS p75_active_days,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(u.events, 0))
                       AS median_events
            FROM people p
            LEFT JOIN used u ON u.stakeholder_id = p.id AND u.feature = p.feature
            GROUP BY p.role, p.feature
            """,
            roles,
            features,
            since,
        )
        return {
            (r["role"], r["feature"]): RoleBenchmark(
                median_active_days=float(r["median_active_days"]),
                p75_active_days=float(r["p75_active_days"]),
                median_events=float(r["median_events"]),
                peers=int(r["peers"]),
            )
            for r in rows
        }
