-- Attendance from the webinar tools: a session names its webinar (Zoom's id), the tool's
-- verified webhooks are kept per session, and so is every attendance result published, so
-- that a result computed again from the same facts is not published twice.
-- depends: 0003_seats_and_waitlist

ALTER TABLE occurrences ADD COLUMN webinar_id text NOT NULL DEFAULT '';
CREATE INDEX occurrences_by_webinar ON occurrences (webinar_id) WHERE webinar_id <> '';

-- One row per webhook (registered, joined, left, ended), as the edge translated it.
CREATE TABLE webinar_activity (
    event_id         uuid PRIMARY KEY,
    occurrence_id    uuid NOT NULL REFERENCES occurrences (id),
    source           text NOT NULL,
    webinar_id       text NOT NULL,
    webinar_instance text NOT NULL DEFAULT '',
    kind             text NOT NULL CHECK (kind IN ('registered', 'joined', 'left', 'ended')),
    email            text NOT NULL DEFAULT '' CHECK (email = lower(email)),
    participant_id   text NOT NULL DEFAULT '',
    occur_time       timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webinar_activity_by_session ON webinar_activity (occurrence_id, occur_time);

-- Each AttendanceRecorded the catalog published, by its deterministic id (session, email,
-- kind, minutes): the same result is published once, a different one again.
CREATE TABLE attendance_results (
    event_id         uuid PRIMARY KEY,
    occurrence_id    uuid NOT NULL REFERENCES occurrences (id),
    email            text NOT NULL CHECK (email = lower(email)),
    kind             text NOT NULL CHECK (kind IN ('registered', 'attended', 'no_show')),
    minutes_attended integer NOT NULL DEFAULT 0 CHECK (minutes_attended >= 0),
    source           text NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attendance_results_by_session ON attendance_results (occurrence_id);
