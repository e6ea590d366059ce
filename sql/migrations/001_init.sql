-- 001_init: the queue's tables and the seed-compatible views.
-- Ids are assigned by the single writer process (see runtime/store.ts), so no
-- sequences and no PRIMARY KEY indexes: DuckDB's zone maps on the monotonically
-- growing ids do the skipping, and ART indexes only slow the appender down.

-- Immutable once stored: the exact bytes received, plus what was parsed from them.
CREATE TABLE webhooks (
    id            BIGINT    NOT NULL,
    received_at   TIMESTAMP NOT NULL,
    source        VARCHAR   NOT NULL,  -- first path segment after /webhook/
    endpoint      VARCHAR   NOT NULL,  -- full path after /webhook/
    source_ip     VARCHAR,
    content_type  VARCHAR,
    headers       JSON      NOT NULL,
    -- The raw bytes, for signatures and faithful forwarding, stored once: when the body is JSON
    -- its bytes are exactly payload's UTF-8 text and body is NULL. The bytes are always
    -- COALESCE(body, encode(CAST(payload AS VARCHAR))) (the raw_body column of webhooks_raw).
    body          BLOB,
    payload       JSON                 -- the body, verbatim, when it is UTF-8 JSON; else NULL
);

-- Every webhook with its exact raw bytes, however they are stored.
CREATE VIEW webhooks_raw AS
SELECT *, COALESCE(body, encode(CAST(payload AS VARCHAR))) AS raw_body FROM webhooks;

-- One row per webhook once the rules have looked at it; matched = 0 means "no rule matched".
CREATE TABLE webhook_routing (
    webhook_id   BIGINT    NOT NULL,
    routed_at    TIMESTAMP NOT NULL,
    matched      INTEGER   NOT NULL,
    rule_errors  JSON
);

-- One row per (webhook, matching rule).
CREATE TABLE deliveries (
    id                  BIGINT    NOT NULL,
    webhook_id          BIGINT    NOT NULL,
    rule_id             INTEGER   NOT NULL,
    rule_name           VARCHAR   NOT NULL,
    priority            INTEGER   NOT NULL,
    target_url          VARCHAR   NOT NULL,
    transformed_body    VARCHAR,           -- JSON built by the rule's transform; NULL = forward the raw webhook body
    timeout_seconds     DOUBLE    NOT NULL,
    max_retries         INTEGER   NOT NULL,
    backoff_multiplier  DOUBLE    NOT NULL,
    base_delay_seconds  DOUBLE    NOT NULL,
    status              VARCHAR   NOT NULL, -- pending | in_flight | retrying | delivered | dead
    attempts            INTEGER   NOT NULL,
    next_attempt_at     TIMESTAMP NOT NULL,
    lease_owner         VARCHAR,
    lease_token         VARCHAR,
    lease_expires_at    TIMESTAMP,
    last_status_code    INTEGER,
    last_error          VARCHAR,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

-- Every attempt, successful or not.
CREATE TABLE delivery_attempts (
    id              BIGINT    NOT NULL,
    delivery_id     BIGINT    NOT NULL,
    webhook_id      BIGINT    NOT NULL,
    attempt_number  INTEGER   NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP NOT NULL,
    target_url      VARCHAR   NOT NULL,
    status_code     INTEGER,
    response_body   VARCHAR,
    error           VARCHAR,
    duration_ms     INTEGER   NOT NULL,
    outcome         VARCHAR   NOT NULL  -- delivered | retrying | dead
);

-- The seed's table, kept with its column names; retry_policy is
-- {"max_retries", "backoff_multiplier", "base_delay_seconds"}.
CREATE TABLE routing_rules (
    id               INTEGER   NOT NULL PRIMARY KEY,
    rule_name        VARCHAR   NOT NULL UNIQUE,
    description      VARCHAR,
    filter_query     VARCHAR   NOT NULL,
    transform_query  VARCHAR   NOT NULL,
    target_url       VARCHAR   NOT NULL,
    timeout_seconds  INTEGER   NOT NULL DEFAULT 30,
    retry_policy     JSON,
    is_active        BOOLEAN   NOT NULL DEFAULT true,
    priority         INTEGER   NOT NULL DEFAULT 100,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

-- Seed-compatible view: one row per webhook with the seed's status vocabulary
-- (pending, processing, completed, failed) plus 'unmatched'.
CREATE VIEW raw_webhooks AS
SELECT
    w.id,
    w.received_at,
    w.source_ip,
    w.endpoint,
    w.headers,
    w.payload,
    CASE
        WHEN r.webhook_id IS NULL THEN 'pending'
        WHEN r.matched = 0 THEN 'unmatched'
        WHEN d.active > 0 THEN 'processing'
        WHEN d.dead > 0 THEN 'failed'
        ELSE 'completed'
    END AS status,
    COALESCE(d.retries, 0) AS retry_count,
    w.received_at AS created_at,
    COALESCE(d.updated_at, r.routed_at, w.received_at) AS updated_at,
    w.source
FROM webhooks w
LEFT JOIN webhook_routing r ON r.webhook_id = w.id
LEFT JOIN (
    SELECT webhook_id,
           count(*) FILTER (WHERE status IN ('pending', 'in_flight', 'retrying')) AS active,
           count(*) FILTER (WHERE status = 'dead') AS dead,
           max(greatest(attempts - 1, 0)) AS retries,
           max(updated_at) AS updated_at
    FROM deliveries
    GROUP BY webhook_id
) d ON d.webhook_id = w.id;

-- Seed-compatible view of the attempt log.
CREATE VIEW webhook_processing_log AS
SELECT
    a.id,
    a.webhook_id,
    a.attempt_number,
    a.started_at AS processing_started_at,
    a.completed_at AS processing_completed_at,
    a.target_url AS internal_url,
    CAST(d.transformed_body AS JSON) AS request_payload,
    a.status_code AS response_status,
    a.response_body,
    a.error AS error_message,
    a.duration_ms AS processing_duration_ms,
    a.completed_at AS created_at,
    a.delivery_id,
    d.rule_name
FROM delivery_attempts a
LEFT JOIN deliveries d ON d.id = a.delivery_id;
