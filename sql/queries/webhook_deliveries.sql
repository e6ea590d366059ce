-- webhook_deliveries: a webhook's deliveries, in priority order. $1 webhook id.
SELECT id, webhook_id, rule_id, rule_name, target_url, status, attempts, next_attempt_at, last_status_code,
       last_error, created_at, updated_at
FROM deliveries
WHERE webhook_id = $1
ORDER BY priority DESC, id;
