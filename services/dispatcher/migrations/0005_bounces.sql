-- Bounce reports already read from a sender's mailbox.
-- depends: 0004_claim_token

CREATE TABLE processed_bounces (
    provider_message_id text PRIMARY KEY,
    processed_at        timestamptz NOT NULL DEFAULT now()
);
