-- dead_letter_exhausted: retrying deliveries that have used up their policy become dead.
-- $1 now.
UPDATE deliveries
SET status = 'dead', updated_at = $1
WHERE status = 'retrying' AND attempts > max_retries;
