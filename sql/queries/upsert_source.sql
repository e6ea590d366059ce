-- upsert_source: creates or replaces a source's configuration. $1 name, $2 config JSON, $3 now.
INSERT INTO sources (name, config, created_at, updated_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at;
