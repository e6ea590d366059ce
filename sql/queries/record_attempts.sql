-- record_attempts: log the staged outcomes whose lease is still the current one.
-- A late worker whose lease expired and was handed to someone else logs nothing.
INSERT INTO delivery_attempts
SELECT o.attempt_id, o.delivery_id, d.webhook_id, d.attempts + 1, o.started_at, o.completed_at,
       d.target_url, o.status_code, o.response_body, o.error, o.duration_ms, o.outcome
FROM temp.main.outcomes o
JOIN deliveries d ON d.id = o.delivery_id AND d.lease_token = o.lease_token AND d.status = 'in_flight'
WHERE d.id BETWEEN $1 AND $2;
