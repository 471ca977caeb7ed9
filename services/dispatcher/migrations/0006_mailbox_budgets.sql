-- Each mailbox's provider budget, shared by every dispatcher process and kept across restarts:
-- the calls of the rolling window, the pace, and the pause the provider asked for. Written
-- with a compare-and-set on `version`, so that two reservations never both take the same room.
-- The mailbox's history position before each send, to settle an unknown outcome from the
-- mailbox's history rather than its (lagging) search index.
-- depends: 0005_bounces

CREATE TABLE mailbox_budgets (
    mailbox         text PRIMARY KEY,
    spent_at        timestamptz[] NOT NULL DEFAULT '{}',
    spent_units     integer[] NOT NULL DEFAULT '{}',
    paced_until     timestamptz,
    paused_until    timestamptz,
    pauses_in_a_row integer NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(spent_at) = cardinality(spent_units))
);

ALTER TABLE deliveries ADD COLUMN send_history_id text;
-- Settling skips the history's messages that other deliveries already recorded as theirs.
CREATE INDEX deliveries_by_provider_id ON deliveries (provider_message_id)
    WHERE provider_message_id <> '';
