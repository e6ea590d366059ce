-- unrouted_webhooks: the next webhooks past the routing cursor, oldest first, up to the
-- committed watermark (group commits on several connections may land out of order, and the
-- cursor must never pass an id whose batch is still committing).
-- $1 cursor (last routed id), $2 watermark (highest id with everything below decided), $3 max.
SELECT id, source, endpoint, CAST(headers AS VARCHAR) AS headers, CAST(payload AS VARCHAR) AS payload,
       received_at, source_ip, content_type
FROM webhooks
WHERE id > $1 AND id <= $2
ORDER BY id
LIMIT $3;
