"""Deliveries, their controls and suppressed addresses in PostgreSQL (schema `dispatcher`)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.common.db import Connection
from services.common.unit_of_work import Repository
from services.dispatcher.domain.contact_budget import OtherInvitation
from services.dispatcher.domain.model import (
    Address,
    ApprovedInvitation,
    Delivery,
    DeliveryState,
    MessagePurpose,
)
from services.dispatcher.service_layer.ports import SendControls

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
    "purpose",
    "contact_budget_override",
)


def _to_delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        approved=ApprovedInvitation(
            **{c: row[c] for c in _APPROVED_COLUMNS} | {"purpose": MessagePurpose(row["purpose"])}
        ),
        message_id=row["message_id"],
        state=DeliveryState(row["state"]),
        detail=row["detail"],
        provider_message_id=row["provider_message_id"],
        attempts=row["attempts"],
        sent_at=row["sent_at"],
        outcome_unknown=row["outcome_unknown"],
        attempted_at=row["attempted_at"],
        history_id=row["send_history_id"],
        claim_token=row["claim_token"],
    )


class PostgresDeliveryRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    def _loaded(self, row: asyncpg.Record) -> Delivery:
        return self.seen(_to_delivery(row))

    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery; False when the invitation already has one."""
        self.seen(delivery)
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
            UPDATE deliveries
            SET lease_until = $1 + $3::interval, attempts = attempts + 1, claim_token = $4
            WHERE id IN (
                SELECT d.id FROM deliveries d
                WHERE d.state = 'pending' AND d.send_after <= $1
                  AND (d.lease_until IS NULL OR d.lease_until < $1)
                  AND NOT EXISTS (
                      SELECT 1 FROM batch_controls b WHERE b.batch = d.batch AND b.paused)
                  AND NOT EXISTS (
                      SELECT 1 FROM sender_controls s
                      WHERE s.sender_email = d.sender_email
                        AND (s.paused OR s.backoff_until > $1))
                ORDER BY d.send_after
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            now,
            limit,
            lease,
            uuid.uuid4(),
        )
        return [self._loaded(r) for r in rows]

    async def renew_claim(self, delivery: Delivery, lease: dt.timedelta) -> bool:
        """Extend this worker's claim before acting on the delivery; False when the claim ran
        out and another worker holds the delivery now (or it is no longer pending)."""
        renewed = await self._conn.fetchval(
            """
            UPDATE deliveries SET lease_until = now() + $3::interval
            WHERE id = $1 AND claim_token = $2 AND state = 'pending'
            RETURNING true
            """,
            delivery.id,
            delivery.claim_token,
            lease,
        )
        return bool(renewed)

    async def save(self, delivery: Delivery) -> bool:
        """Store the delivery's state and end its claim, unless another claim holds it now (a
        delivery with no claim, such as a bounced one, is stored whoever holds it)."""
        saved = await self._conn.fetchval(
            """
            UPDATE deliveries
            SET state = $2, detail = $3, provider_message_id = $4, sent_at = $5, lease_until = NULL,
                outcome_unknown = $6
            WHERE id = $1 AND ($7::uuid IS NULL OR claim_token = $7)
            RETURNING true
            """,
            delivery.id,
            delivery.state.value,
            delivery.detail,
            delivery.provider_message_id,
            delivery.sent_at,
            delivery.outcome_unknown,
            delivery.claim_token,
        )
        if saved:
            self.seen(delivery)
        return bool(saved)

    async def mark_attempt(self, delivery: Delivery, lease: dt.timedelta) -> bool:
        """Written and committed before the provider is called: if the process dies before it
        records the answer, whoever takes the delivery over looks it up first, in the mailbox's
        history from the first attempt's position (it covers every attempt). False (and nothing
        written) when this worker's claim is no longer the current one."""
        marked = await self._conn.fetchval(
            """
            UPDATE deliveries
            SET outcome_unknown = true, attempted_at = $5, lease_until = now() + $3::interval,
                send_history_id = coalesce(send_history_id, $4)
            WHERE id = $1 AND claim_token = $2 AND state = 'pending'
            RETURNING true
            """,
            delivery.id,
            delivery.claim_token,
            lease,
            delivery.history_id,
            delivery.attempted_at,
        )
        return bool(marked)

    async def controls(
        self, delivery: Delivery, invitations_since: dt.datetime | None = None
    ) -> SendControls:
        row = await self._conn.fetchrow(
            """
            SELECT (SELECT reason FROM suppressions WHERE email = lower($1)) AS suppressed_reason,
                   EXISTS (SELECT 1 FROM batch_controls WHERE batch = $2 AND paused)
                       AS batch_paused,
                   EXISTS (SELECT 1 FROM sender_controls WHERE sender_email = $3 AND paused)
                       AS sender_paused
            """,
            delivery.approved.recipient_email,
            delivery.approved.batch,
            delivery.approved.sender_email,
        )
        assert row is not None
        others = (
            ()
            if invitations_since is None
            else await self._other_invitations(delivery, invitations_since)
        )
        return SendControls(
            row["suppressed_reason"], row["batch_paused"], row["sender_paused"], others
        )

    async def _other_invitations(
        self, delivery: Delivery, since: dt.datetime
    ) -> tuple[OtherInvitation, ...]:
        """The address's other invitations sent or attempted since then (a probe of
        deliveries_invitations_to; a person has few)."""
        rows = await self._conn.fetch(
            """
            SELECT training_session, subject, state, sent_at, outcome_unknown, attempted_at,
                   contact_budget_override <> '' AS overridden
            FROM deliveries
            WHERE lower(recipient_email) = lower($1) AND purpose = 'invitation' AND id <> $2
              AND (sent_at >= $3 OR attempted_at >= $3)
            """,
            delivery.approved.recipient_email,
            delivery.id,
            since,
        )
        return tuple(
            OtherInvitation(
                training_session=r["training_session"],
                subject=r["subject"],
                state=DeliveryState(r["state"]),
                sent_at=r["sent_at"],
                outcome_unknown=r["outcome_unknown"],
                attempted_at=r["attempted_at"],
                overridden=r["overridden"],
            )
            for r in rows
        )

    async def lock_contact(self, email: str) -> None:
        """A lock on the address until the transaction ends (the suppression list's lock is
        another: unsubscribing never waits for a send)."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('dispatcher.contact:' || lower($1), 0))",
            email,
        )

    async def sent_since(
        self, sender_email: str, since: dt.datetime
    ) -> tuple[int, dt.datetime | None]:
        """How many messages the sender sent since then, and the oldest of them."""
        row = await self._conn.fetchrow(
            """
            SELECT count(*) AS sent, min(sent_at) AS oldest FROM deliveries
            WHERE sender_email = $1 AND state = 'sent' AND sent_at > $2
            """,
            sender_email,
            since,
        )
        assert row is not None
        return int(row["sent"]), row["oldest"]

    async def hold_sender(self, sender_email: str, until: dt.datetime) -> None:
        """Claim nothing of the sender's before `until` (its mailbox is resting after a
        rate-limit answer); shown as the sender's backoff."""
        await self._conn.execute(
            """
            INSERT INTO sender_controls (sender_email, backoff_until) VALUES ($1, $2)
            ON CONFLICT (sender_email) DO UPDATE
                SET backoff_until = greatest(sender_controls.backoff_until, $2),
                    backoff_level = sender_controls.backoff_level + 1, updated_at = now()
            """,
            sender_email,
            until,
        )

    async def sending_went_well(self, sender_email: str) -> None:
        """A successful send resets the sender's backoff."""
        await self._conn.execute(
            """
            UPDATE sender_controls SET backoff_level = 0, backoff_until = NULL
            WHERE sender_email = $1 AND backoff_level > 0
            """,
            sender_email,
        )

    async def known_provider_ids(self, provider_message_ids: list[str]) -> set[str]:
        """Which of these provider ids other deliveries already recorded as theirs."""
        rows = await self._conn.fetch(
            """
            SELECT provider_message_id FROM deliveries
            WHERE provider_message_id = ANY($1::text[])
            """,
            provider_message_ids,
        )
        return {r["provider_message_id"] for r in rows}

    async def retry_later(self, delivery: Delivery, at: dt.datetime, reason: str) -> None:
        """Leave the delivery pending, not to be claimed before `at`."""
        await self._conn.execute(
            """
            UPDATE deliveries SET lease_until = $2, detail = $3, outcome_unknown = $4
            WHERE id = $1 AND ($5::uuid IS NULL OR claim_token = $5)
            """,
            delivery.id,
            at,
            reason,
            delivery.outcome_unknown,
            delivery.claim_token,
        )

    async def for_batch(self, batch: str) -> list[Delivery]:
        rows = await self._conn.fetch(
            "SELECT * FROM deliveries WHERE batch = $1 ORDER BY created_at, id", batch
        )
        return [self._loaded(r) for r in rows]

    async def first_bounce(self, provider_message_id: str) -> bool:
        """Mark a bounce report read; False when it was before."""
        added = await self._conn.fetchval(
            """
            INSERT INTO processed_bounces (provider_message_id) VALUES ($1)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            provider_message_id,
        )
        return bool(added)

    async def by_message_id(self, message_id: str) -> Delivery | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM deliveries WHERE message_id = $1 FOR UPDATE", message_id
        )
        return None if row is None else self._loaded(row)

    async def recent_senders(self, since: dt.datetime) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT sender_email FROM deliveries WHERE state = 'sent' AND sent_at > $1",
            since,
        )
        return [r["sender_email"] for r in rows]

    async def has_invited(self, sender_email: str, recipient_email: str) -> bool:
        """True when an invitation from this mailbox went (or is going) to this address."""
        found = await self._conn.fetchval(
            """
            SELECT EXISTS (
                SELECT 1 FROM deliveries
                WHERE lower(sender_email) = lower($1) AND lower(recipient_email) = lower($2)
            )
            """,
            sender_email,
            recipient_email,
        )
        return bool(found)

    async def set_batch_paused(self, batch: str, paused: bool, by: str) -> None:
        await self._conn.execute(
            """
            INSERT INTO batch_controls (batch, paused, updated_by) VALUES ($1, $2, $3)
            ON CONFLICT (batch) DO UPDATE SET paused = $2, updated_by = $3, updated_at = now()
            """,
            batch,
            paused,
            by,
        )

    async def batch_paused(self, batch: str) -> bool:
        paused = await self._conn.fetchval(
            "SELECT paused FROM batch_controls WHERE batch = $1", batch
        )
        return bool(paused)

    async def unsent_for_update(self, batch: str) -> list[Delivery]:
        """The batch's deliveries not sent yet, locked; one being sent right now is skipped."""
        rows = await self._conn.fetch(
            """
            SELECT * FROM deliveries
            WHERE batch = $1 AND state = 'pending' AND NOT outcome_unknown
              AND (lease_until IS NULL OR lease_until < now())
            FOR UPDATE SKIP LOCKED
            """,
            batch,
        )
        return [self._loaded(r) for r in rows]

    async def set_sender_paused(self, sender_email: str, paused: bool, by: str) -> None:
        await self._conn.execute(
            """
            INSERT INTO sender_controls (sender_email, paused, updated_by) VALUES ($1, $2, $3)
            ON CONFLICT (sender_email) DO UPDATE
                SET paused = $2, updated_by = $3, updated_at = now()
            """,
            sender_email,
            paused,
            by,
        )

    async def sender_control(self, sender_email: str) -> tuple[bool, dt.datetime | None]:
        row = await self._conn.fetchrow(
            "SELECT paused, backoff_until FROM sender_controls WHERE sender_email = $1",
            sender_email,
        )
        return (False, None) if row is None else (row["paused"], row["backoff_until"])


class PostgresAddressRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def get(self, email: str) -> Address:
        # A lock on the address (it may have no row yet) until the transaction ends: of two
        # units of work suppressing it at once, the second sees the first's row.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('dispatcher.suppression:' || $1, 0))",
            email.lower(),
        )
        reason: str | None = await self._conn.fetchval(
            "SELECT reason FROM suppressions WHERE email = lower($1)", email
        )
        return self.seen(Address(email, reason))

    async def save(self, address: Address) -> None:
        self.seen(address)
        if address.suppressed_reason is not None:
            await self._conn.execute(
                """INSERT INTO suppressions (email, reason) VALUES ($1, $2)
                   ON CONFLICT (email) DO NOTHING""",
                address.email,
                address.suppressed_reason,
            )
