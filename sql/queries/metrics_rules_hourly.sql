-- metrics_rules_hourly: per rule, the last hour (duckdb_routing_rule_*): webhooks matched
-- (deliveries created) and attempts by outcome with their summed duration. Both filters are on
-- append-ordered timestamps, so zone maps skip older row groups, and the join's id range is
-- pushed into the deliveries scan.
-- Rows (rule_name, kind, n, duration_ms): kind is 'matched' or an attempt outcome
-- (delivered | retrying | dead). $1 start of the window.
SELECT rule_name, 'matched' AS kind, count(DISTINCT webhook_id) AS n, 0 AS duration_ms
FROM deliveries
WHERE created_at >= $1
GROUP BY rule_name
UNION ALL
SELECT d.rule_name, a.outcome, count(*), sum(a.duration_ms)
FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
WHERE a.completed_at >= $1
GROUP BY d.rule_name, a.outcome;
