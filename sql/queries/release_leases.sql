-- release_leases: on shutdown, hand back what this process still holds so a restart sends it at once.
-- $1 now, $2 lease owner.
UPDATE deliveries
SET status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END,
    lease_token = NULL,
    lease_owner = NULL,
    lease_expires_at = NULL,
    next_attempt_at = $1,
    updated_at = $1
WHERE status = 'in_flight' AND lease_owner = $2;
