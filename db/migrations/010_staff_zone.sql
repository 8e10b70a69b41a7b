-- zones gain the staff kind: whoever is seen in a staff area most of the time is staff, not a shopper
ALTER TABLE zones DROP CONSTRAINT IF EXISTS zones_kind_check;
ALTER TABLE zones ADD CONSTRAINT zones_kind_check
    CHECK (kind IN ('shelf', 'checkout', 'exit', 'entrance', 'staff', 'custom', 'region'));
