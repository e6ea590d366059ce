-- list_deliveries: deliveries newest first (GET /deliveries, e.g. the dead letters), one page.
-- $1 status or NULL, $2 rule id or NULL, $3 webhook id or NULL, $4 only ids below this (the
-- page cursor) or NULL, $5 page size.
SELECT id, webhook_id, rule_id, rule_name, target_url, status, attempts, next_attempt_at,
       last_status_code, last_error, created_at, updated_at
FROM deliveries
WHERE ($1::VARCHAR IS NULL OR status = $1)
  AND ($2::INTEGER IS NULL OR rule_id = $2)
  AND ($3::BIGINT IS NULL OR webhook_id = $3)
  AND ($4::BIGINT IS NULL OR id < $4)
ORDER BY id DESC
LIMIT $5;
