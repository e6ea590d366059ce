-- insert_rule: a new rule. Its id is one past any rule id ever used (deliveries and failures keep
-- the ids of deleted rules, so an id is never handed out twice).
-- $1 name, $2 description, $3 filter, $4 transform, $5 target, $6 timeout s, $7 retry policy JSON,
-- $8 priority, $9 now, $10 active.
INSERT INTO routing_rules (id, rule_name, description, filter_query, transform_query, target_url,
                           timeout_seconds, retry_policy, is_active, priority, created_at, updated_at)
SELECT greatest(
           (SELECT COALESCE(max(id), 0) FROM routing_rules),
           (SELECT COALESCE(max(rule_id), 0) FROM deliveries),
           (SELECT COALESCE(max(rule_id), 0) FROM rule_failures)) + 1,
       $1, $2, $3, $4, $5, $6, $7, $10, $8, $9, $9
RETURNING id;
