-- set_rule_forward_headers: which incoming headers a rule forwards. $1 rule id, $2 JSON array or NULL.
UPDATE routing_rules SET forward_headers = $2 WHERE id = $1;
