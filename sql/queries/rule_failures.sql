-- rule_failures: a rule's recorded failures, newest first. $1 rule id, $2 max rows.
SELECT rule_name, first_webhook_id, last_webhook_id, webhooks, error, failed_at
FROM rule_failures
WHERE rule_id = $1
ORDER BY failed_at DESC, first_webhook_id DESC
LIMIT $2;
