-- 003_sources_dedup: sources that verify their senders, de-duplication keys, and the per-rule
-- list of incoming headers forwarded to targets.

-- One row per configured source (the first path segment of /webhook/{source}/...). config is the
-- source's JSON as accepted by PUT /sources/{name}, secrets included: the gateway needs them to
-- verify signatures, and never returns or logs them.
CREATE TABLE sources (
    name        VARCHAR   NOT NULL PRIMARY KEY,
    config      JSON      NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- A dedup key per stored webhook whose source de-duplicates, written in the webhook's own
-- transaction, so after a restart a resent webhook still finds its original. Append-only;
-- rows older than every source's window are pruned at start.
CREATE TABLE webhook_dedup_keys (
    source      VARCHAR   NOT NULL,
    dedup_key   VARCHAR   NOT NULL,
    webhook_id  BIGINT    NOT NULL,
    seen_at     TIMESTAMP NOT NULL
);

-- Incoming header names a rule forwards to its target (JSON array of lower-case names);
-- NULL forwards none but the content type and the gateway's own headers.
ALTER TABLE routing_rules ADD COLUMN forward_headers JSON;
