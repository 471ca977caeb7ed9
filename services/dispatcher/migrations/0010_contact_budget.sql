-- A person gets at most one invitation within the frequency cap's window, checked again at
-- send time: the CSM's reason for sending one anyway (empty: the cap holds), and the
-- invitations to an address by when they were sent, which the check reads for every send.
-- Deliveries from before carry no override.
-- depends: 0009_tracking_minutes_at

ALTER TABLE deliveries ADD COLUMN contact_budget_override text NOT NULL DEFAULT '';
CREATE INDEX deliveries_invitations_to ON deliveries (lower(recipient_email), sent_at)
    WHERE purpose = 'invitation';
