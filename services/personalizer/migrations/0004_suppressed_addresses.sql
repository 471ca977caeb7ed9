-- Addresses the dispatcher will never email (unsubscribed, bounced, rejected), mirrored from its
-- AddressSuppressed events so that drafting leaves them out with the reason.
-- depends: 0003_benchmarks_history_audit

CREATE TABLE suppressed_addresses (
    email         text PRIMARY KEY CHECK (email = lower(email)),
    reason        text NOT NULL,
    suppressed_at timestamptz NOT NULL DEFAULT now()
);
