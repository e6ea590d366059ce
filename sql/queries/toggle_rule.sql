-- toggle_rule: flip is_active. $1 id, $2 now.
UPDATE routing_rules SET is_active = NOT is_active, updated_at = $2 WHERE id = $1
RETURNING id, is_active;
