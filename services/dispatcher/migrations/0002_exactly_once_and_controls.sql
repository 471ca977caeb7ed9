-- A send whose outcome is unknown is looked up before any retry; batches and senders can be
-- paused; a batch's unsent deliveries can be cancelled.
-- depends: 0001_deliveries

ALTER TABLE deliveries ADD COLUMN outcome_unknown boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'sent', 'failed', 'suppressed', 'cancelled'));
-- The daily cap counts what each sender sent in the last 24 hours.
CREATE INDEX deliveries_sent_by_sender ON deliveries (sender_email, sent_at) WHERE state = 'sent';

CREATE TABLE batch_controls (
    batch      text PRIMARY KEY,
    paused     boolean NOT NULL DEFAULT false,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sender_controls (
    sender_email  text PRIMARY KEY,
    paused        boolean NOT NULL DEFAULT false,
    -- Set when the provider said slow down; nothing is sent from the mailbox before then.
    backoff_until timestamptz,
    backoff_level integer NOT NULL DEFAULT 0,
    updated_by    text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now()
);
