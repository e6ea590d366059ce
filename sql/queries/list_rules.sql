-- list_rules: every rule, as the seed's GET /routing-rules lists them.
SELECT id, rule_name, description, filter_query, transform_query, target_url, is_active, priority,
       timeout_seconds, CAST(retry_policy AS VARCHAR) AS retry_policy, created_at, updated_at
FROM routing_rules
ORDER BY priority DESC, created_at DESC;
