-- active_rules: the rules a drain batch is routed by, highest priority first.
SELECT id, rule_name, filter_query, transform_query, target_url, timeout_seconds,
       CAST(retry_policy AS VARCHAR) AS retry_policy, priority
FROM routing_rules
WHERE is_active
ORDER BY priority DESC, id;
