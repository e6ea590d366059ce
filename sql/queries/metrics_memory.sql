-- metrics_memory: bytes DuckDB's buffer manager holds (duckdb_memory_usage_bytes).
SELECT COALESCE(sum(memory_usage_bytes), 0) AS bytes FROM duckdb_memory();
