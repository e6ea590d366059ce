-- insert_rule_failure: a rule errored or timed out over a drain batch.
-- $1 rule id, $2 rule name, $3 first webhook id, $4 last webhook id, $5 webhooks, $6 error, $7 now.
INSERT INTO rule_failures VALUES ($1, $2, $3, $4, $5, $6, $7);
