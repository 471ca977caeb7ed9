-- When the last send was attempted: a lookup that finds nothing is trusted only once the
-- provider has had time to finish a request that timed out.
-- depends: 0002_exactly_once_and_controls

ALTER TABLE deliveries ADD COLUMN attempted_at timestamptz;
