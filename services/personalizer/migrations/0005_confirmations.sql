-- Confirmations of registrations are batches too (one approved draft each, one per customer
-- and catalog event, through the same unique index as notices); the one-invitation rule
-- already counts invitations only, so a confirmation to someone invited is allowed.
-- depends: 0004_suppressed_addresses

ALTER TABLE invitation_batches DROP CONSTRAINT invitation_batches_purpose_check;
ALTER TABLE invitation_batches ADD CONSTRAINT invitation_batches_purpose_check
    CHECK (purpose IN ('invitation', 'rescheduled', 'cancelled', 'updated', 'confirmation'));
