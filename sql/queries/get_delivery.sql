-- get_delivery: a delivery with what a revival needs. $1 id.
SELECT id, webhook_id, rule_id, rule_name, priority, target_url, transformed_body, timeout_seconds,
       max_retries, backoff_multiplier, base_delay_seconds, status
FROM deliveries
WHERE id = $1;
