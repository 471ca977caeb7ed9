-- Each claim carries a token: a worker acts on a delivery only while its claim is the current
-- one, so a worker whose lease ran out cannot send what another worker has taken over.
-- depends: 0003_attempt_time

ALTER TABLE deliveries ADD COLUMN claim_token uuid;
