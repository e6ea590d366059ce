-- list_rules: every rule, as the seed's GET /routing-rules lists them, with its failure summary.
SELECT r.id, r.rule_name, r.description, r.filter_query, r.transform_query, r.target_url, r.is_active,
       r.priority, r.timeout_seconds, CAST(r.retry_policy AS VARCHAR) AS retry_policy, r.created_at, r.updated_at,
       CAST(r.forward_headers AS VARCHAR) AS forward_headers,
       COALESCE(f.error_count, 0) AS error_count, f.last_error, f.last_error_at
FROM routing_rules r
LEFT JOIN (
    SELECT rule_id, count(*) AS error_count, arg_max(error, failed_at) AS last_error, max(failed_at) AS last_error_at
    FROM rule_failures GROUP BY rule_id
) f ON f.rule_id = r.id
ORDER BY r.priority DESC, r.created_at DESC, r.id;
