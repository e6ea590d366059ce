-- list_sources: every configured source with its configuration (secrets included: callers redact).
SELECT name, CAST(config AS VARCHAR) AS config, created_at, updated_at FROM sources ORDER BY name;
