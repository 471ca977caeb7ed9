-- What was heard of each invitation after it was sent (registered, waitlisted, cancelled,
-- attended with minutes, no-show): one row per invitation once anything was heard, none before
-- (the delivery says whether it was sent). Facts naming no invitation are matched to deliveries
-- by session and address.
-- depends: 0006_mailbox_budgets

CREATE TABLE tracking (
    -- A delivery's invitation (deliveries are never deleted; no foreign key: its check would lock
    -- the delivery row of every fact written).
    invitation        text PRIMARY KEY,
    stage             text NOT NULL
                      CHECK (stage IN ('waitlisted', 'registered', 'cancelled', 'attended', 'no_show')),
    waitlist_position integer NOT NULL DEFAULT 0 CHECK (waitlist_position >= 0),
    minutes_attended  integer NOT NULL DEFAULT 0 CHECK (minutes_attended >= 0),
    -- When the newest fact applied to the invitation happened (the fact's own time).
    updated_at        timestamptz NOT NULL
);

CREATE INDEX deliveries_by_session_recipient ON deliveries (training_session, lower(recipient_email));
CREATE INDEX deliveries_by_session_sender ON deliveries (training_session, lower(sender_email));
