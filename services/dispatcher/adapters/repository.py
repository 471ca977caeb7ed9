"""Deliveries and suppressions in PostgreSQL (schema `dispatcher`)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from services.common.db import Connection
from services.dispatcher.domain.model import ApprovedInvitation, Delivery, DeliveryState

_APPROVED_COLUMNS = (
    "invitation",
    "batch",
    "customer_id",
    "training_session",
    "recipient_email",
    "recipient_name",
    "sender_email",
    "sender_name",
    "subject",
    "text_body",
    "html_body",
    "calendar_ics",
    "content_sha256",
    "approved_by",
    "approved_at",
    "send_after",
)


def _to_delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        approved=ApprovedInvitation(**{c: row[c] for c in _APPROVED_COLUMNS}),
        message_id=row["message_id"],
        state=DeliveryState(row["state"]),
        detail=row["detail"],
        provider_message_id=row["provider_message_id"],
        attempts=row["attempts"],
        sent_at=row["sent_at"],
    )


class DeliveryRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery; False when the invitation already has one."""
        a = delivery.approved
        inserted = await self._conn.fetchval(
            f"""
            INSERT INTO deliveries (id, message_id, {", ".join(_APPROVED_COLUMNS)})
            VALUES ($1, $2, {", ".join(f"${i}" for i in range(3, 3 + len(_APPROVED_COLUMNS)))})
            ON CONFLICT (invitation) DO NOTHING
            RETURNING true
            """,
            delivery.id,
            delivery.message_id,
            *(getattr(a, c) for c in _APPROVED_COLUMNS),
        )
        return bool(inserted)

    async def claim_due(self, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[Delivery]:
        """Take up to `limit` due deliveries for `lease`; other workers skip them meanwhile,
        and take them over once the lease has run out (a crashed worker's claims)."""
        rows = await self._conn.fetch(
            """
            UPDATE deliveries SET lease_until = $1 + $3::interval, attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM deliveries
                WHERE state = 'pending' AND send_after <= $1
                  AND (lease_until IS NULL OR lease_until < $1)
                ORDER BY send_after
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            now,
            limit,
            lease,
        )
        return [_to_delivery(r) for r in rows]

    async def save_outcome(self, delivery: Delivery) -> None:
        await self._conn.execute(
            """
            UPDATE deliveries
            SET state = $2, detail = $3, provider_message_id = $4, sent_at = $5, lease_until = NULL
            WHERE id = $1
            """,
            delivery.id,
            delivery.state.value,
            delivery.detail,
            delivery.provider_message_id,
            delivery.sent_at,
        )

    async def retry_later(self, delivery: Delivery, at: dt.datetime, reason: str) -> None:
        """Leave the delivery pending, not to be claimed before `at`."""
        await self._conn.execute(
            "UPDATE deliveries SET lease_until = $2, detail = $3 WHERE id = $1",
            delivery.id,
            at,
            reason,
        )

    async def for_batch(self, batch: str) -> list[Delivery]:
        rows = await self._conn.fetch(
            "SELECT * FROM deliveries WHERE batch = $1 ORDER BY created_at, id", batch
        )
        return [_to_delivery(r) for r in rows]

    async def suppression_reason(self, email: str) -> str | None:
        """Why the address must not be emailed, or None."""
        reason: str | None = await self._conn.fetchval(
            "SELECT reason FROM suppressions WHERE email = lower($1)", email
        )
        return reason

    async def suppress(self, email: str, reason: str) -> None:
        await self._conn.execute(
            """INSERT INTO suppressions (email, reason) VALUES (lower($1), $2)
               ON CONFLICT (email) DO NOTHING""",
            email,
            reason,
        )
