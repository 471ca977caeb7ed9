-- Minutes attended follow the newest "attended" result (the catalog stamps each with when it
-- worked it out), so each invitation keeps when its minutes were given. Rows written before
-- kept the highest minutes reported; their newest fact's time stands in for it.
-- depends: 0008_delivery_purpose

ALTER TABLE tracking ADD COLUMN minutes_at timestamptz;
UPDATE tracking SET minutes_at = updated_at WHERE stage = 'attended';
