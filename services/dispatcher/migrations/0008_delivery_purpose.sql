-- What each approved message is for: registrations and attendance are tracked per invitation;
-- a notice or a confirmation goes to someone already invited and is not one more invitation.
-- Deliveries from before were all invitations, notices or confirmations alike.
-- depends: 0007_tracking

ALTER TABLE deliveries
    ADD COLUMN purpose text NOT NULL DEFAULT 'invitation'
    CHECK (purpose IN ('invitation', 'notice', 'confirmation'));
