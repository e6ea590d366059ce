-- claimed_webhooks: what a delivery needs from its webhook (raw body, content type, sender IP,
-- the headers a rule may forward).
-- $1 smallest id, $2 largest id, $3 list of ids. The range lets zone maps skip row groups.
SELECT id, COALESCE(body, encode(CAST(payload AS VARCHAR))) AS body, content_type, source_ip, received_at,
       CAST(headers AS VARCHAR) AS headers
FROM webhooks
WHERE id BETWEEN $1 AND $2 AND list_contains($3, id);
