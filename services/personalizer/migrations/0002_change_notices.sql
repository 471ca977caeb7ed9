-- Notices of a session change (rescheduled, cancelled, updated) are batches too, reviewed and
-- approved like invitations; one per customer and catalog event.
-- depends: 0001_invitation_batches

ALTER TABLE invitation_batches
    ADD COLUMN purpose text NOT NULL DEFAULT 'invitation'
        CHECK (purpose IN ('invitation', 'rescheduled', 'cancelled', 'updated')),
    ADD COLUMN notice_reason text NOT NULL DEFAULT '',
    ADD COLUMN source_event_id uuid;
CREATE UNIQUE INDEX one_notice_per_customer_and_change
    ON invitation_batches (customer_id, source_event_id) WHERE source_event_id IS NOT NULL;

ALTER TABLE invitation_drafts
    ADD COLUMN purpose text NOT NULL DEFAULT 'invitation';

-- Notices go to people already invited: the one-invitation rule is about invitations only.
DROP INDEX one_approved_invitation_per_person_and_session;
CREATE UNIQUE INDEX one_approved_invitation_per_person_and_session
    ON invitation_drafts (training_session, stakeholder_id)
    WHERE state = 'approved' AND purpose = 'invitation';
