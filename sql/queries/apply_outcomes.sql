-- apply_outcomes: move each leased delivery to its new state; the lease token must still match.
-- $1 smallest delivery id, $2 largest (so zone maps skip the rest of the table).
UPDATE deliveries AS d
SET status = o.outcome,
    attempts = d.attempts + 1,
    next_attempt_at = COALESCE(o.next_attempt_at, d.next_attempt_at),
    last_status_code = o.status_code,
    last_error = o.error,
    lease_token = NULL,
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = o.completed_at
FROM temp.main.outcomes o
WHERE d.id = o.delivery_id AND d.lease_token = o.lease_token AND d.status = 'in_flight'
  AND d.id BETWEEN $1 AND $2;
