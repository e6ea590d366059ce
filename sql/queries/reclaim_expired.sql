-- reclaim_expired: return deliveries whose lease ran out (the worker crashed or hung) to the
-- retry queue, due now. The attempt count is left alone: the attempt never reported back.
-- $1 now.
UPDATE deliveries
SET status = 'retrying',
    lease_token = NULL,
    lease_owner = NULL,
    lease_expires_at = NULL,
    next_attempt_at = $1,
    last_error = 'lease expired',
    updated_at = $1
WHERE status = 'in_flight' AND lease_expires_at < $1;
