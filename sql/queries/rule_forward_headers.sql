-- rule_forward_headers: the rules that forward incoming headers to their targets, with the
-- header names (a JSON array of lower-case names).
SELECT id, CAST(forward_headers AS VARCHAR) AS forward_headers FROM routing_rules WHERE forward_headers IS NOT NULL;
