-- Role benchmarks precomputed from the platform's usage, each person's training history from
-- attendance events, the render context of each draft, and who changed what in a batch.
-- depends: 0002_change_notices

CREATE TABLE role_benchmarks (
    role               text NOT NULL,
    feature            text NOT NULL,
    window_days        integer NOT NULL,
    peers              integer NOT NULL,
    p25_active_days    double precision NOT NULL,
    median_active_days double precision NOT NULL,
    p75_active_days    double precision NOT NULL,
    p25_events         double precision NOT NULL,
    median_events      double precision NOT NULL,
    p75_events         double precision NOT NULL,
    computed_at        timestamptz NOT NULL,
    PRIMARY KEY (window_days, role, feature)
);

-- What each person registered for or attended, kept from attendance events.
CREATE TABLE training_history (
    stakeholder_id   text NOT NULL,
    training_session text NOT NULL,
    course           text NOT NULL,
    course_title     text NOT NULL,
    features         text[] NOT NULL,
    state            text NOT NULL CHECK (state IN ('registered', 'attended', 'no_show', 'cancelled')),
    session_start    timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stakeholder_id, training_session)
);
CREATE INDEX training_history_by_course ON training_history (course);

-- The variables each draft was rendered with, so it can be rendered again from new templates.
ALTER TABLE invitation_drafts ADD COLUMN render_context jsonb NOT NULL DEFAULT '{}';

-- Approved invitations by person and time, for the frequency cap.
CREATE INDEX invitation_drafts_by_stakeholder ON invitation_drafts (stakeholder_id)
    WHERE state = 'approved' AND purpose = 'invitation';

CREATE TABLE batch_changes (
    id        bigserial PRIMARY KEY,
    batch_id  uuid NOT NULL REFERENCES invitation_batches (id) ON DELETE CASCADE,
    draft_id  uuid,
    action    text NOT NULL,
    actor     text NOT NULL,
    detail    text NOT NULL DEFAULT '',
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX batch_changes_by_batch ON batch_changes (batch_id, id);
