-- dashboard_volume: webhooks received in the last hour, day and week (GET /dashboard/summary).
-- received_at grows with the append order, so zone maps skip everything older than a week. $1 now.
SELECT count(*) FILTER (WHERE received_at > $1 - INTERVAL 1 HOUR) AS last_hour,
       count(*) FILTER (WHERE received_at > $1 - INTERVAL 1 DAY)  AS last_day,
       count(*)                                                   AS last_week
FROM webhooks
WHERE received_at > $1 - INTERVAL 7 DAY;
