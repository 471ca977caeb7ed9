-- Registrations wait for a seat when a session is full: the waitlist keeps the order of arrival
-- in a sequence number per session (assigned under the session's row lock), and a registration
-- remembers the invitation the person came through.
-- depends: 0002_courses_and_occurrences

ALTER TABLE registrations DROP CONSTRAINT registrations_state_check;
ALTER TABLE registrations ADD CONSTRAINT registrations_state_check
    CHECK (state IN ('registered', 'waitlisted', 'attended', 'no_show', 'cancelled'));

ALTER TABLE registrations ADD COLUMN waitlist_seq bigint;
ALTER TABLE registrations ADD COLUMN invitation text NOT NULL DEFAULT '';
-- Only the waitlisted have a place, and no two share one.
ALTER TABLE registrations ADD CONSTRAINT registrations_waitlist_seq_check
    CHECK ((state = 'waitlisted') = (waitlist_seq IS NOT NULL));
CREATE UNIQUE INDEX registrations_waitlist
    ON registrations (occurrence_id, waitlist_seq) WHERE state = 'waitlisted';
