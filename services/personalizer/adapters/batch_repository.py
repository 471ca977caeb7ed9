"""Invitation batches and drafts in PostgreSQL (schema `personalizer`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from services.common.db import Connection
from services.common.errors import FailedPrecondition
from services.common.unit_of_work import Repository
from services.personalizer.domain.funnel import Invitation as FunnelInvitation
from services.personalizer.domain.learning import Outcomes
from services.personalizer.domain.model import (
    Angle,
    BatchState,
    Content,
    DeliveryState,
    DraftState,
    Exclusion,
    ExclusionReason,
    InvitationBatch,
    InvitationDraft,
    Invitee,
    LearningOutcome,
    Purpose,
    Recipient,
    SelectionReason,
    Sender,
    SessionInfo,
    Stakeholder,
)


def session_to_json(s: SessionInfo) -> dict[str, Any]:
    return {
        "name": s.name,
        "title": s.title,
        "topic": s.topic,
        "level": s.level,
        "format": s.format,
        "features": list(s.features),
        "target_roles": list(s.target_roles),
        "start_time": s.start_time.isoformat(),
        "time_zone": s.time_zone,
        "duration_seconds": s.duration.total_seconds(),
        "join_url": s.join_url,
        "registration_url": s.registration_url,
        "presenter": s.presenter,
        "learning_outcomes": [
            {"feature": o.feature, "text": o.text, "level": o.level} for o in s.learning_outcomes
        ],
        "sequence": s.sequence,
        "course": s.course,
    }


def session_from_json(d: dict[str, Any]) -> SessionInfo:
    return SessionInfo(
        name=d["name"],
        title=d["title"],
        topic=d["topic"],
        level=d["level"],
        format=d["format"],
        features=tuple(d["features"]),
        target_roles=tuple(d["target_roles"]),
        start_time=dt.datetime.fromisoformat(d["start_time"]),
        time_zone=d["time_zone"],
        duration=dt.timedelta(seconds=d["duration_seconds"]),
        join_url=d["join_url"],
        registration_url=d["registration_url"],
        presenter=d["presenter"],
        learning_outcomes=tuple(LearningOutcome(**o) for o in d["learning_outcomes"]),
        sequence=d.get("sequence", 0),
        course=d.get("course", ""),
    )


def _exclusion_to_json(e: Exclusion) -> dict[str, Any]:
    s = e.stakeholder
    return {
        "stakeholder": {
            "id": s.id,
            "customer_id": s.customer_id,
            "display_name": s.display_name,
            "email": s.email,
            "role": s.role,
            "title": s.title,
            "time_zone": s.time_zone,
            "opted_out": s.opted_out,
        },
        "reason": e.reason.value,
        "detail": e.detail,
        "score": e.score,
    }


def _exclusion_from_json(d: dict[str, Any]) -> Exclusion:
    return Exclusion(
        Stakeholder(**d["stakeholder"]),
        ExclusionReason(d["reason"]),
        d["detail"],
        d.get("score"),
    )


def _recipient_to_json(r: Recipient) -> dict[str, Any]:
    return {
        "stakeholder_id": r.stakeholder_id,
        "display_name": r.display_name,
        "email": r.email,
        "role": r.role,
        "title": r.title,
        "time_zone": r.time_zone,
    }


def _draft_from_row(row: asyncpg.Record) -> InvitationDraft:
    return InvitationDraft(
        id=row["id"],
        recipient=Recipient(**row["recipient"]),
        score=row["score"],
        reasons=[SelectionReason(**r) for r in row["reasons"]],
        angle=Angle(row["angle"]),
        talking_points=list(row["talking_points"]),
        content=Content(row["subject"], row["text_body"], row["html_body"], row["calendar_ics"]),
        registration_url=row["registration_url"],
        state=DraftState(row["state"]),
        content_sha256=row["content_sha256"],
        delivery_state=DeliveryState(row["delivery_state"]),
        delivery_detail=row["delivery_detail"],
        updated_by=row["updated_by"],
        version=row["version"],
        render_context=row["render_context"],
        template_version=row["template_version"],
        sent_at=row["sent_at"],
        angle_reason=row["angle_reason"],
    )


# New drafts are inserted whole; a stored draft takes only what may change after drafting.
_UPSERT_DRAFTS = """
INSERT INTO invitation_drafts (
    id, batch_id, position, training_session, stakeholder_id, recipient, score, reasons, angle,
    talking_points, subject, text_body, html_body, calendar_ics, registration_url, state,
    content_sha256, delivery_state, delivery_detail, updated_by, version, purpose, render_context,
    template_version, angle_reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25)
ON CONFLICT (id) DO UPDATE
SET subject = EXCLUDED.subject, text_body = EXCLUDED.text_body, html_body = EXCLUDED.html_body,
    calendar_ics = EXCLUDED.calendar_ics, state = EXCLUDED.state,
    content_sha256 = EXCLUDED.content_sha256,
    -- Once a draft is approved its delivery state is show_delivery's alone: a batch read before
    -- an outcome arrived (approving the rest of it, say) must not write the old state back.
    delivery_state = CASE WHEN invitation_drafts.state = 'approved'
                          THEN invitation_drafts.delivery_state ELSE EXCLUDED.delivery_state END,
    delivery_detail = CASE WHEN invitation_drafts.state = 'approved'
                           THEN invitation_drafts.delivery_detail ELSE EXCLUDED.delivery_detail END,
    updated_by = EXCLUDED.updated_by, version = EXCLUDED.version,
    template_version = EXCLUDED.template_version
"""
_ONE_APPROVED_INVITATION = "one_approved_invitation_per_person_and_session"


class PostgresBatchRepository(Repository):
    """Reads and writes batches on one connection (inside a unit of work's transaction)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    async def add(self, batch: InvitationBatch, request_id: str | None) -> bool:
        """Store a new batch with its drafts; False when the request id or source event was
        used already (the batch is not stored, and its events do not go out)."""
        inserted = await self._conn.fetchval(
            """
            INSERT INTO invitation_batches (
                id, customer_id, customer_name, training_session, session_snapshot,
                sender_email, sender_name, state, excluded, request_id, created_by, created_at,
                version, purpose, notice_reason, source_event_id, approved_by, approved_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    NULLIF($17, ''), $18)
            ON CONFLICT DO NOTHING
            RETURNING true
            """,
            batch.id,
            batch.customer_id,
            batch.customer_name,
            batch.session.name,
            session_to_json(batch.session),
            batch.sender.email,
            batch.sender.display_name,
            batch.state.value,
            [_exclusion_to_json(e) for e in batch.excluded],
            request_id,
            batch.created_by,
            batch.created_at,
            batch.version,
            batch.purpose.value,
            batch.notice_reason,
            batch.source_event_id,
            # A confirmation is stored approved: who approved it is kept like a CSM's approval.
            batch.approved_by,
            batch.approved_at,
        )
        if not inserted:
            return False
        await self._save_drafts(batch)
        self.seen(batch)
        return True

    async def _save_drafts(self, batch: InvitationBatch) -> None:
        try:
            await self._conn.executemany(
                _UPSERT_DRAFTS,
                [
                    (
                        d.id,
                        batch.id,
                        position,
                        batch.session.name,
                        d.recipient.stakeholder_id,
                        _recipient_to_json(d.recipient),
                        d.score,
                        [
                            {"factor": r.factor, "weight": r.weight, "text": r.text}
                            for r in d.reasons
                        ],
                        d.angle.value,
                        d.talking_points,
                        d.content.subject,
                        d.content.text_body,
                        d.content.html_body,
                        d.content.calendar_ics,
                        d.registration_url,
                        d.state.value,
                        d.content_sha256,
                        d.delivery_state.value,
                        d.delivery_detail,
                        d.updated_by,
                        d.version,
                        batch.purpose.value,
                        d.render_context,
                        d.template_version,
                        d.angle_reason,
                    )
                    for position, d in enumerate(batch.drafts)
                ],
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != _ONE_APPROVED_INVITATION:
                raise
            raise FailedPrecondition(
                "someone in this batch already has an approved invitation to this session"
            ) from exc

    async def id_for(
        self, customer_id: str, request_id: str | None, source_event_id: uuid.UUID | None
    ) -> uuid.UUID | None:
        """The batch a call with this request id, or an event with this id, created, if any."""
        value: uuid.UUID | None = await self._conn.fetchval(
            """
            SELECT id FROM invitation_batches
            WHERE customer_id = $1 AND (request_id = $2 OR source_event_id = $3)
            """,
            customer_id,
            request_id,
            source_event_id,
        )
        return value

    async def get(
        self, customer_id: str, batch_id: uuid.UUID, for_update: bool = False
    ) -> InvitationBatch | None:
        """The batch with its drafts; `for_update` locks it until the transaction ends."""
        lock = "FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"""
            SELECT * FROM invitation_batches WHERE id = $1 AND customer_id = $2 {lock}
            """,
            batch_id,
            customer_id,
        )
        if row is None:
            return None
        drafts = await self._conn.fetch(
            "SELECT * FROM invitation_drafts WHERE batch_id = $1 ORDER BY position", batch_id
        )
        batch = InvitationBatch(
            id=row["id"],
            customer_id=row["customer_id"],
            customer_name=row["customer_name"],
            session=session_from_json(row["session_snapshot"]),
            sender=Sender(row["sender_email"], row["sender_name"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            drafts=[_draft_from_row(d) for d in drafts],
            excluded=[_exclusion_from_json(e) for e in row["excluded"]],
            state=BatchState(row["state"]),
            approved_by=row["approved_by"] or "",
            approved_at=row["approved_at"],
            version=row["version"],
            purpose=Purpose(row["purpose"]),
            notice_reason=row["notice_reason"],
            source_event_id=row["source_event_id"],
        )
        return self.seen(batch)

    async def save(self, batch: InvitationBatch) -> None:
        """Write back the batch's state, every draft's changeable fields and its new drafts."""
        await self._conn.execute(
            """
            UPDATE invitation_batches
            SET state = $2, approved_by = NULLIF($3, ''), approved_at = $4, version = $5,
                excluded = $6
            WHERE id = $1
            """,
            batch.id,
            batch.state.value,
            batch.approved_by,
            batch.approved_at,
            batch.version,
            [_exclusion_to_json(e) for e in batch.excluded],
        )
        await self._save_drafts(batch)
        self.seen(batch)

    async def invited_stakeholders(
        self, training_session: str, stakeholder_ids: list[str]
    ) -> set[str]:
        """Those of `stakeholder_ids` with an approved invitation to the session.

        Asked only about the people being drafted for: every customer's invitees of a popular
        session would be read on each draft, in memory and time growing with every approval."""
        rows = await self._conn.fetch(
            """
            SELECT stakeholder_id FROM invitation_drafts
            WHERE training_session = $1 AND stakeholder_id = ANY($2::text[])
              AND state = 'approved' AND purpose = 'invitation'
            """,
            training_session,
            stakeholder_ids,
        )
        return {r["stakeholder_id"] for r in rows}

    async def invitees(self, training_session: str) -> list[Invitee]:
        """Everyone holding an approved invitation to the session, by customer."""
        rows = await self._conn.fetch(
            """
            SELECT b.customer_id, d.recipient, d.angle, d.registration_url
            FROM invitation_drafts d JOIN invitation_batches b ON b.id = d.batch_id
            WHERE d.training_session = $1 AND d.state = 'approved' AND d.purpose = 'invitation'
            ORDER BY b.customer_id, d.position
            """,
            training_session,
        )
        return [
            Invitee(
                r["customer_id"],
                Recipient(**r["recipient"]),
                Angle(r["angle"]),
                r["registration_url"],
            )
            for r in rows
        ]

    async def invited_since(self, stakeholder_ids: list[str], since: dt.datetime) -> dict[str, str]:
        """stakeholder id -> the title of a session they had an invitation to approved since."""
        rows = await self._conn.fetch(
            """
            SELECT DISTINCT ON (d.stakeholder_id) d.stakeholder_id,
                   b.session_snapshot ->> 'title' AS title, b.approved_at
            FROM invitation_drafts d JOIN invitation_batches b ON b.id = d.batch_id
            WHERE d.stakeholder_id = ANY($1::text[]) AND d.state = 'approved'
              AND d.purpose = 'invitation' AND b.approved_at >= $2
            ORDER BY d.stakeholder_id, b.approved_at DESC
            """,
            stakeholder_ids,
            since,
        )
        return {
            r[
                "stakeholder_id"
            ]: f"{r['title']} (approved {r['approved_at']:%b} {r['approved_at'].day})"
            for r in rows
        }

    async def angle_outcomes(self) -> dict[tuple[str, Angle], Outcomes]:
        rows = await self._conn.fetch(
            """
            SELECT d.recipient ->> 'role' AS role, d.angle, count(*) AS sent,
                   count(*) FILTER (WHERE h.state IN ('registered', 'attended', 'no_show'))
                       AS registered
            FROM invitation_drafts d
            LEFT JOIN training_history h
                   ON h.stakeholder_id = d.stakeholder_id
                  AND h.training_session = d.training_session
            WHERE d.purpose = 'invitation' AND d.delivery_state = 'sent'
            GROUP BY 1, 2
            """
        )
        return {(r["role"], Angle(r["angle"])): Outcomes(r["sent"], r["registered"]) for r in rows}

    async def funnel_invitations(
        self,
        customer_id: str | None,
        sender_email: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> list[FunnelInvitation]:
        rows = await self._conn.fetch(
            """
            SELECT d.angle, d.recipient ->> 'role' AS role, d.template_version,
                   d.recipient ->> 'time_zone' AS time_zone,
                   (b.session_snapshot ->> 'start_time')::timestamptz AS session_start,
                   d.state = 'approved' AS approved, d.delivery_state = 'sent' AS sent,
                   d.sent_at, coalesce(h.state, '') AS registration
            FROM invitation_drafts d
            JOIN invitation_batches b ON b.id = d.batch_id
            LEFT JOIN training_history h
                   ON h.stakeholder_id = d.stakeholder_id
                  AND h.training_session = d.training_session
            WHERE d.purpose = 'invitation'
              AND ($1::text IS NULL OR b.customer_id = $1)
              AND ($2::text IS NULL OR lower(b.sender_email) = lower($2))
              AND ($3::timestamptz IS NULL OR b.created_at >= $3)
              AND ($4::timestamptz IS NULL OR b.created_at < $4)
            """,
            customer_id,
            sender_email,
            start,
            end,
        )
        return [FunnelInvitation(**dict(r)) for r in rows]

    async def lock_approvals(self, customer_id: str) -> None:
        # One advisory lock per customer (a lock per person would take thousands of the
        # server's lock slots for a large batch); approvals are a CSM's clicks, seldom at once.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('personalizer.approvals:' || $1, 0))",
            customer_id,
        )

    async def log(
        self,
        batch_id: uuid.UUID,
        draft_id: uuid.UUID | None,
        action: str,
        actor: str,
        detail: str = "",
    ) -> None:
        """Who changed what in a batch."""
        await self._conn.execute(
            """
            INSERT INTO batch_changes (batch_id, draft_id, action, actor, detail)
            VALUES ($1, $2, $3, $4, $5)
            """,
            batch_id,
            draft_id,
            action,
            actor,
            detail,
        )

    async def page_for_customer(
        self,
        customer_id: str,
        limit: int,
        after: tuple[dt.datetime, uuid.UUID] | None,
        pending_only: bool,
    ) -> list[uuid.UUID]:
        """Batch ids of a customer, newest first, after a keyset position."""
        rows = await self._conn.fetch(
            """
            SELECT id FROM invitation_batches
            WHERE customer_id = $1 AND (NOT $2 OR state = 'pending_review')
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
            ORDER BY created_at DESC, id DESC
            LIMIT $5
            """,
            customer_id,
            pending_only,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
        return [r["id"] for r in rows]

    async def show_delivery(
        self, draft_id: uuid.UUID, state: DeliveryState, detail: str, at: dt.datetime
    ) -> None:
        """Show a delivery outcome on an approved draft (no other draft has one), and when it
        was sent."""
        await self._conn.execute(
            """
            UPDATE invitation_drafts SET delivery_state = $2, delivery_detail = $3,
                sent_at = CASE WHEN $2 = 'sent' THEN $4 ELSE sent_at END
            WHERE id = $1 AND state = 'approved'
            """,
            draft_id,
            state.value,
            detail,
            at,
        )
