-- Each draft says why its angle was chosen (the rules, or how people of the recipient's role
-- answered each angle); drafts from before say nothing.
-- depends: 0006_funnel

ALTER TABLE invitation_drafts ADD COLUMN angle_reason text NOT NULL DEFAULT '';

-- What the angle learner reads on each drafting: sent invitations by role and angle.
CREATE INDEX invitation_drafts_sent_invitations ON invitation_drafts (angle)
    WHERE purpose = 'invitation' AND delivery_state = 'sent';
