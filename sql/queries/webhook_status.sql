-- webhook_status: one webhook in the seed's shape. $1 id.
SELECT id, status, retry_count, received_at, created_at, updated_at, endpoint, source
FROM raw_webhooks
WHERE id = $1;
