-- recent_dedup_keys: the newest dedup keys seen at or after $1, newest first, at most $2 of them
-- (the in-memory dedup map is filled from these at start).
SELECT source, dedup_key, webhook_id, seen_at FROM webhook_dedup_keys
WHERE seen_at >= $1
ORDER BY seen_at DESC
LIMIT $2;
