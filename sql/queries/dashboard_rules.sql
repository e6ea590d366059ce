-- dashboard_rules: per active rule, over all history (as the seed's rules_performance): webhooks
-- it was delivered for or is delivering, its deliveries by state, and its mean attempt duration.
-- Deliveries are joined by rule id, not by target URL as the seed did (two rules may share one).
WITH per_rule AS (
    SELECT rule_id,
           count(DISTINCT webhook_id) AS webhook_count,
           count(*) AS deliveries,
           count(*) FILTER (WHERE status = 'delivered') AS delivered,
           count(*) FILTER (WHERE status = 'dead') AS dead,
           count(*) FILTER (WHERE status IN ('pending', 'in_flight', 'retrying')) AS open
    FROM deliveries
    GROUP BY rule_id
),
durations AS (
    SELECT d.rule_id, avg(a.duration_ms) AS avg_duration_ms, count(*) AS attempts
    FROM delivery_attempts a
    JOIN deliveries d ON d.id = a.delivery_id
    GROUP BY d.rule_id
)
SELECT r.id AS rule_id, r.rule_name,
       COALESCE(p.webhook_count, 0) AS webhook_count,
       t.avg_duration_ms,
       COALESCE(p.deliveries, 0) AS deliveries,
       COALESCE(p.delivered, 0) AS delivered,
       COALESCE(p.dead, 0) AS dead,
       COALESCE(p.open, 0) AS open,
       COALESCE(t.attempts, 0) AS attempts
FROM routing_rules r
LEFT JOIN per_rule p ON p.rule_id = r.id
LEFT JOIN durations t ON t.rule_id = r.id
WHERE r.is_active
ORDER BY r.priority DESC, r.id;
