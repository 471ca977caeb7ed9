"""What was heard of each invitation after it was sent, in PostgreSQL (table `tracking`).

Written a batch of facts at a time: the deliveries a batch names are found and their
invitations locked in one statement, their tracking read in another (after the locks, so that it
is the latest committed), and every change written in a third.
"""

from __future__ import annotations

import asyncpg

from services.common.db import Connection
from services.common.unit_of_work import Repository
from services.dispatcher.domain.tracking import InvitationStatus, Stage, Tracking, is_unsubscribe
from services.dispatcher.service_layer.ports import Invited

# Each invitation a batch is about is locked for the rest of the transaction with an advisory
# lock (a row lock would write every delivery's tuple, and the WAL, on every batch), taken in
# the order of the invitations' names so that two batches sharing invitations never deadlock.
_INVITED = """
SELECT invitation, training_session, email,
       pg_advisory_xact_lock(hashtextextended('dispatcher.tracking:' || invitation, 0))
FROM (
    SELECT invitation, training_session, lower(recipient_email) AS email FROM deliveries
    WHERE invitation = ANY($1::text[])
    UNION
    -- One index probe (deliveries_by_session_recipient) per person. Joined plainly, the
    -- planner hashes the whole table once a session has thousands of deliveries (10 ms a
    -- batch at 5,000); the LATERAL subquery, kept apart by OFFSET 0, probes (under 1 ms).
    SELECT d.invitation, d.training_session, lower(d.recipient_email)
    FROM unnest($2::text[], $3::text[]) AS p (training_session, email)
    CROSS JOIN LATERAL (
        SELECT invitation, training_session, recipient_email FROM deliveries
        WHERE training_session = p.training_session AND lower(recipient_email) = p.email
          AND purpose = 'invitation'
        OFFSET 0
    ) AS d
    ORDER BY invitation
    OFFSET 0
) AS found
"""

_SAVE = """
INSERT INTO tracking (invitation, stage, waitlist_position, minutes_attended, updated_at,
                      minutes_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::timestamptz[],
                     $6::timestamptz[])
ON CONFLICT (invitation) DO UPDATE
    SET stage = excluded.stage, waitlist_position = excluded.waitlist_position,
        minutes_attended = excluded.minutes_attended, updated_at = excluded.updated_at,
        minutes_at = excluded.minutes_at
"""

_STATUS = """
SELECT d.invitation, d.recipient_email, d.training_session, d.customer_id, d.sender_email,
       d.state, d.sent_at, t.stage, t.waitlist_position, t.minutes_attended, t.updated_at,
       s.reason AS suppressed_reason
FROM deliveries d
LEFT JOIN tracking t ON t.invitation = d.invitation
LEFT JOIN suppressions s ON s.email = lower(d.recipient_email)
"""


def _status(row: asyncpg.Record) -> InvitationStatus:
    sent = row["state"] == "sent"
    stage = Stage(row["stage"]) if row["stage"] else (Stage.SENT if sent else Stage.NOT_SENT)
    return InvitationStatus(
        invitation=row["invitation"],
        recipient_email=row["recipient_email"],
        training_session=row["training_session"],
        customer_id=row["customer_id"],
        delivery_state=row["state"],
        stage=stage,
        waitlist_position=row["waitlist_position"] or 0,
        minutes_attended=row["minutes_attended"] or 0,
        unsubscribed=is_unsubscribe(row["suppressed_reason"]),
        updated_at=row["updated_at"] or row["sent_at"],
    )


class PostgresTrackingRepository(Repository):
    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def invited(self, invitations: list[str], people: list[tuple[str, str]]) -> list[Invited]:
        rows = await self._conn.fetch(
            _INVITED, invitations, [p[0] for p in people], [p[1] for p in people]
        )
        return [Invited(r["invitation"], r["training_session"], r["email"]) for r in rows]

    async def get_many(self, invitations: list[str]) -> dict[str, Tracking]:
        rows = await self._conn.fetch(
            """
            SELECT invitation, stage, waitlist_position, minutes_attended, updated_at, minutes_at
            FROM tracking WHERE invitation = ANY($1::text[])
            """,
            invitations,
        )
        return {
            r["invitation"]: Tracking(
                r["invitation"],
                Stage(r["stage"]),
                r["waitlist_position"],
                r["minutes_attended"],
                r["updated_at"],
                r["minutes_at"],
            )
            for r in rows
        }

    async def save_many(self, trackings: list[Tracking]) -> None:
        kept = [t for t in trackings if t.stage is not None and t.updated_at is not None]
        if not kept:
            return
        await self._conn.execute(
            _SAVE,
            [t.invitation for t in kept],
            [str(t.stage) for t in kept],
            [t.waitlist_position for t in kept],
            [t.minutes_attended for t in kept],
            [t.updated_at for t in kept],
            [t.minutes_at for t in kept],
        )

    async def of_batch(self, batch: str) -> list[tuple[str, InvitationStatus]]:
        rows = await self._conn.fetch(
            _STATUS + " WHERE d.batch = $1 ORDER BY d.created_at, d.id", batch
        )
        return [(r["sender_email"], _status(r)) for r in rows]

    async def of_session(self, training_session: str, sender_email: str) -> list[InvitationStatus]:
        rows = await self._conn.fetch(
            _STATUS
            + """ WHERE d.training_session = $1 AND lower(d.sender_email) = lower($2)
                    AND d.purpose = 'invitation'
                  ORDER BY d.customer_id, d.created_at, d.id""",
            training_session,
            sender_email,
        )
        return [_status(r) for r in rows]
