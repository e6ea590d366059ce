-- delete_rule: remove a rule; its deliveries keep a copy of what they need and are left alone. $1 id.
DELETE FROM routing_rules WHERE id = $1 RETURNING id;
