-- What the invitation funnel groups by that a draft did not keep: when its invitation was sent
-- (weekday and hour in the recipient's zone, lead time before the session) and which version
-- of its angle's templates it was rendered from. Drafts from before keep neither.
-- depends: 0005_confirmations

ALTER TABLE invitation_drafts
    ADD COLUMN sent_at timestamptz,
    ADD COLUMN template_version text NOT NULL DEFAULT '';

-- The funnel of one customer, or of one CSM's batches, reads their invitation drafts.
CREATE INDEX invitation_batches_by_sender ON invitation_batches (lower(sender_email), created_at);
