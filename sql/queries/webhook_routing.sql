-- webhook_routing: how the rules treated a webhook. $1 webhook id.
SELECT routed_at, matched, CAST(rule_errors AS VARCHAR) AS rule_errors
FROM webhook_routing
WHERE webhook_id = $1;
