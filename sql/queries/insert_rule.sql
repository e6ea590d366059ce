-- insert_rule: a new rule; the id is the next free one.
-- $1 name, $2 description, $3 filter, $4 transform, $5 target, $6 timeout s, $7 retry policy JSON,
-- $8 priority, $9 now.
INSERT INTO routing_rules (id, rule_name, description, filter_query, transform_query, target_url,
                           timeout_seconds, retry_policy, is_active, priority, created_at, updated_at)
SELECT COALESCE(max(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7, true, $8, $9, $9 FROM routing_rules
RETURNING id;
