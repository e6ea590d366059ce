-- find_dedup_key: the original webhook for a dedup key seen in [$3, $4]. $1 source, $2 key.
SELECT webhook_id, seen_at FROM webhook_dedup_keys
WHERE seen_at BETWEEN $3 AND $4 AND source = $1 AND dedup_key = $2
ORDER BY seen_at
LIMIT 1;
