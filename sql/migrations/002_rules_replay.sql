-- 002_rules_replay: rule failures recorded against the rule, and where replayed deliveries came from.

-- One row per rule per drain batch in which the rule errored or ran out of time. The batch's
-- webhooks got no delivery from that rule; [first_webhook_id, last_webhook_id] is what to replay
-- to it (POST /replay {"where": "id BETWEEN a AND b", "rule_id": n}) once the rule is fixed.
CREATE TABLE rule_failures (
    rule_id           INTEGER   NOT NULL,
    rule_name         VARCHAR   NOT NULL,
    first_webhook_id  BIGINT    NOT NULL,
    last_webhook_id   BIGINT    NOT NULL,
    webhooks          INTEGER   NOT NULL,
    error             VARCHAR   NOT NULL,
    failed_at         TIMESTAMP NOT NULL
);

-- Replays add deliveries and never rewrite old ones: one row per delivery a replay created.
CREATE TABLE replays (
    delivery_id   BIGINT    NOT NULL,  -- the new delivery
    webhook_id    BIGINT    NOT NULL,
    rule_id       INTEGER   NOT NULL,
    replay_of     BIGINT,              -- the delivery revived by POST /deliveries/{id}/retry, else NULL
    reason        VARCHAR   NOT NULL,  -- webhook | predicate | delivery_retry
    requested_at  TIMESTAMP NOT NULL
);
