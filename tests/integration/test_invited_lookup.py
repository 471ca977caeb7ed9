"""Drafting asks PostgreSQL only about the people it drafts for, not about every invitee.

A popular session collects approved invitations from every customer; reading all of them on
each draft made the personalizer's memory and time per draft grow with every approval.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.personalizer.adapters.batch_repository import PostgresBatchRepository

pytestmark = pytest.mark.integration

SESSION = "training-sessions/invited-lookup"


class _RowCounting:
    """A connection that counts the rows its queries return."""

    def __init__(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        self._conn = conn
        self.rows = 0

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows = await self._conn.fetch(query, *args)
        self.rows += len(rows)
        return rows


async def _approved_invitation(
    conn: asyncpg.Connection[asyncpg.Record], stakeholder_id: str, state: str = "approved"
) -> None:
    batch_id = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO personalizer.invitation_batches (
            id, customer_id, customer_name, training_session, session_snapshot, sender_email,
            sender_name, state, created_by, created_at)
        VALUES ($1, 'lookup-customer', 'Lookup customer', $2, '{}', 'csm@example.com', 'CSM',
                'approved', 'csm@example.com', $3)
        """,
        batch_id,
        SESSION,
        dt.datetime.now(dt.UTC),
    )
    recipient = {
        "stakeholder_id": stakeholder_id,
        "display_name": stakeholder_id,
        "email": f"{stakeholder_id}@example.com",
        "role": "data_analyst",
        "title": "Analyst",
        "time_zone": "UTC",
    }
    await conn.execute(
        """
        INSERT INTO personalizer.invitation_drafts (
            id, batch_id, position, training_session, stakeholder_id, recipient, score,
            reasons, angle, talking_points, subject, text_body, html_body, calendar_ics,
            registration_url, state)
        VALUES ($1, $2, 0, $3, $4, $5, 1.0, '[]', 'close_gap', '[]', 's', 't', 'h', '',
                'https://example.com/r', $6)
        """,
        uuid.uuid4(),
        batch_id,
        SESSION,
        stakeholder_id,
        recipient,
        state,
    )


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    # The personalizer's schema first, as its pool sets it.
    connection = await asyncpg.connect(
        database_url, server_settings={"search_path": "personalizer,public"}
    )
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


async def test_only_the_asked_people_are_read_however_many_others_are_invited(
    conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    for i in range(50):
        await _approved_invitation(conn, f"lookup-other-{i}")
    await _approved_invitation(conn, "lookup-invited")
    await _approved_invitation(conn, "lookup-pending", state="pending_review")
    counting = _RowCounting(conn)

    invited = await PostgresBatchRepository(counting).invited_stakeholders(  # type: ignore[arg-type]
        SESSION, ["lookup-invited", "lookup-pending", "lookup-new"]
    )

    assert invited == {"lookup-invited"}
    # Rows of the 50 others would make the cost of a draft grow with every approval.
    assert counting.rows == 1
