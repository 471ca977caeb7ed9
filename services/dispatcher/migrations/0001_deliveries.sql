-- One delivery per approved invitation and the suppression list (the outbox: services/common/migrations).

CREATE TABLE deliveries (
    id                  uuid PRIMARY KEY,
    -- The approved draft's resource name: a redelivered approval finds its delivery here.
    invitation          text NOT NULL UNIQUE,
    batch               text NOT NULL,
    customer_id         text NOT NULL,
    training_session    text NOT NULL,
    recipient_email     text NOT NULL,
    recipient_name      text NOT NULL,
    sender_email        text NOT NULL,
    sender_name         text NOT NULL,
    subject             text NOT NULL,
    text_body           text NOT NULL,
    html_body           text NOT NULL,
    calendar_ics        text NOT NULL,
    content_sha256      text NOT NULL,
    approved_by         text NOT NULL,
    approved_at         timestamptz NOT NULL,
    -- Fixed before the first attempt, so that a retry can be recognised at the provider.
    message_id          text NOT NULL UNIQUE,
    state               text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    detail              text NOT NULL DEFAULT '',
    provider_message_id text NOT NULL DEFAULT '',
    attempts            integer NOT NULL DEFAULT 0,
    send_after          timestamptz NOT NULL,
    -- A worker's claim: nobody else takes the delivery before then.
    lease_until         timestamptz,
    sent_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_due ON deliveries (send_after) WHERE state = 'pending';
CREATE INDEX deliveries_by_batch ON deliveries (batch);

-- Addresses never to be emailed: unsubscribed, bounced, rejected for good.
CREATE TABLE suppressions (
    email      text PRIMARY KEY CHECK (email = lower(email)),
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

