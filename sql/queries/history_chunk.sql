-- history_chunk: stored webhooks with ids in [$1, $2] received in [$3, $4), in exactly the column
-- order and types of the rule sandbox's batch table (runtime/sandbox.ts), which they are copied into.
SELECT id AS webhook_id, id, received_at, source, endpoint, source_ip, content_type,
       headers, payload
FROM webhooks
WHERE id BETWEEN $1 AND $2 AND received_at >= $3 AND received_at < $4;
