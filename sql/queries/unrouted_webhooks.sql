-- unrouted_webhooks: the next webhooks past the routing cursor, oldest first.
-- $1 cursor (last routed id), $2 max.
SELECT id, source, endpoint, CAST(headers AS VARCHAR) AS headers, CAST(payload AS VARCHAR) AS payload
FROM webhooks
WHERE id > $1
ORDER BY id
LIMIT $2;
