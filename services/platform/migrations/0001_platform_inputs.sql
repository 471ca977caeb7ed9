-- The platform's read-only inputs, shipped for development and tests.

CREATE TABLE customers (
    id            text PRIMARY KEY,
    display_name  text NOT NULL,
    -- The CSM assigned to the customer: the only CSM who may act on it, and the sender.
    csm_email     text NOT NULL,
    csm_name      text NOT NULL,
    csm_signature text NOT NULL DEFAULT ''
);
CREATE INDEX customers_by_csm ON customers (lower(csm_email));

CREATE TABLE features (
    key          text PRIMARY KEY,
    display_name text NOT NULL
);

CREATE TABLE stakeholders (
    id           text PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES customers (id),
    display_name text NOT NULL,
    email        text,
    role         text NOT NULL,
    title        text NOT NULL DEFAULT '',
    time_zone    text NOT NULL DEFAULT 'UTC',
    opted_out    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stakeholders_by_customer ON stakeholders (customer_id);
CREATE INDEX stakeholders_by_role ON stakeholders (role);

-- Daily usage per person and feature; the key serves the per-person window scans.
CREATE TABLE usage_metrics (
    stakeholder_id text NOT NULL REFERENCES stakeholders (id),
    feature        text NOT NULL REFERENCES features (key),
    day            date NOT NULL,
    events         integer NOT NULL CHECK (events >= 0),
    PRIMARY KEY (stakeholder_id, feature, day)
);

CREATE TABLE entitlements (
    customer_id text NOT NULL REFERENCES customers (id),
    feature     text NOT NULL REFERENCES features (key),
    PRIMARY KEY (customer_id, feature)
);
