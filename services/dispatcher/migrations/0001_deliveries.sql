-- One delivery per approved invitation, the suppression list, and the outbox.

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

CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    subject      text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
