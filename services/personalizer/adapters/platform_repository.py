"""Read-only access to the platform's inputs (schema `platform`)."""

from __future__ import annotations

import datetime as dt

from services.common.db import Connection
from services.common.unit_of_work import Repository
from services.personalizer.domain.customer_names import NamedCustomer
from services.personalizer.domain.gaps import Usage
from services.personalizer.domain.model import Customer, Stakeholder


class PostgresPlatformRepository(Repository):
    """Customers, stakeholders, usage and role benchmarks."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
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

    async def customers_of(self, csm_email: str) -> list[NamedCustomer]:
        """The customers assigned to the CSM, as their names are matched."""
        rows = await self._conn.fetch(
            """
            SELECT id, display_name FROM platform.customers
            WHERE lower(csm_email) = lower($1) ORDER BY display_name, id
            """,
            csm_email,
        )
        return [NamedCustomer(r["id"], r["display_name"]) for r in rows]

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

    async def stakeholder_ids_by_email(self, email: str) -> list[str]:
        """Every stakeholder with this address (one per customer they belong to)."""
        rows = await self._conn.fetch(
            "SELECT id FROM platform.stakeholders WHERE lower(email) = lower($1)", email
        )
        return [r["id"] for r in rows]

    async def customers_entitled_to(self, feature: str, among: list[str]) -> list[str]:
        """Customers entitled to the feature; all of them when `among` is empty."""
        rows = await self._conn.fetch(
            """
            SELECT customer_id FROM platform.entitlements
            WHERE feature = $1 AND (cardinality($2::text[]) = 0 OR customer_id = ANY($2::text[]))
            ORDER BY customer_id
            """,
            feature,
            among,
        )
        return [r["customer_id"] for r in rows]
