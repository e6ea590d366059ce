-- claim: lease up to $max due deliveries in one statement.
-- $1 status to claim ('pending' for drain, 'retrying' for retry), $2 now, $3 max,
-- $4 lease token, $5 lease owner, $6 lease expiry.
UPDATE deliveries
SET status = 'in_flight',
    lease_token = $4,
    lease_owner = $5,
    lease_expires_at = $6,
    updated_at = $2
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = $1 AND next_attempt_at <= $2
    ORDER BY next_attempt_at, priority DESC, id
    LIMIT $3
)
RETURNING id, webhook_id, rule_id, rule_name, target_url, transformed_body, timeout_seconds,
          max_retries, backoff_multiplier, base_delay_seconds, attempts;
