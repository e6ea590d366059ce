-- queue_counts: deliveries by status, for health and metrics.
SELECT status, count(*) AS n FROM deliveries GROUP BY status;
