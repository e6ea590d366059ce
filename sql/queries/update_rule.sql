-- update_rule: replace a rule's fields. $1 id, $2 name, $3 description, $4 filter, $5 transform,
-- $6 target, $7 timeout s, $8 retry policy JSON, $9 priority, $10 active, $11 now.
UPDATE routing_rules
SET rule_name = $2, description = $3, filter_query = $4, transform_query = $5, target_url = $6,
    timeout_seconds = $7, retry_policy = $8, priority = $9, is_active = $10, updated_at = $11
WHERE id = $1
RETURNING id;
