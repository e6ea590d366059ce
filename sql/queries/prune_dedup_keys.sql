-- prune_dedup_keys: forgets dedup keys older than every source's window. $1 oldest seen_at kept.
DELETE FROM webhook_dedup_keys WHERE seen_at < $1;
