-- webhook_attempts: every attempt logged for a webhook, newest first. $1 webhook id.
SELECT id, delivery_id, attempt_number, started_at, completed_at, target_url, status_code,
       response_body, error, duration_ms, outcome
FROM delivery_attempts
WHERE webhook_id = $1
ORDER BY completed_at DESC, id DESC;
