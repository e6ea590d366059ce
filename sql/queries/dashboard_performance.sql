-- dashboard_performance: delivery attempt durations over the last hour, as the seed's summary
-- reports them (from webhook_processing_log). $1 now.
SELECT avg(duration_ms)                 AS avg_duration_ms,
       min(duration_ms)                 AS min_duration_ms,
       max(duration_ms)                 AS max_duration_ms,
       quantile_cont(duration_ms, 0.5)  AS p50_duration_ms,
       quantile_cont(duration_ms, 0.95) AS p95_duration_ms,
       quantile_cont(duration_ms, 0.99) AS p99_duration_ms,
       count(*)                         AS attempts
FROM delivery_attempts
WHERE completed_at > $1 - INTERVAL 1 HOUR;
