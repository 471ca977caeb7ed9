-- Invitation batches and their drafts, up to approval (the PRD's training_invitations);
-- the outbox comes from services/common/migrations.

CREATE TABLE invitation_batches (
    id               uuid PRIMARY KEY,
    customer_id      text NOT NULL,
    customer_name    text NOT NULL,
    training_session text NOT NULL,
    -- The session as the drafts were written from it: title, logistics, outcomes.
    session_snapshot jsonb NOT NULL,
    sender_email     text NOT NULL,
    sender_name      text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending_review', 'approved')),
    excluded         jsonb NOT NULL DEFAULT '[]',
    request_id       text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    approved_by      text,
    approved_at      timestamptz,
    version          integer NOT NULL DEFAULT 1,
    UNIQUE (customer_id, request_id)
);
CREATE INDEX invitation_batches_by_customer ON invitation_batches (customer_id, created_at);

CREATE TABLE invitation_drafts (
    id               uuid PRIMARY KEY,
    batch_id         uuid NOT NULL REFERENCES invitation_batches (id) ON DELETE CASCADE,
    position         integer NOT NULL,
    training_session text NOT NULL,
    stakeholder_id   text NOT NULL,
    recipient        jsonb NOT NULL,
    score            double precision NOT NULL,
    reasons          jsonb NOT NULL,
    angle            text NOT NULL,
    talking_points   jsonb NOT NULL,
    subject          text NOT NULL,
    text_body        text NOT NULL,
    html_body        text NOT NULL,
    calendar_ics     text NOT NULL,
    registration_url text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending_review', 'approved', 'dropped')),
    content_sha256   text NOT NULL DEFAULT '',
    delivery_state   text NOT NULL DEFAULT 'not_sent',
    delivery_detail  text NOT NULL DEFAULT '',
    updated_by       text NOT NULL DEFAULT '',
    version          integer NOT NULL DEFAULT 1
);
CREATE INDEX invitation_drafts_by_batch ON invitation_drafts (batch_id, position);
-- At most one approved invitation per person and session, whatever the batch.
CREATE UNIQUE INDEX one_approved_invitation_per_person_and_session
    ON invitation_drafts (training_session, stakeholder_id) WHERE state = 'approved';


