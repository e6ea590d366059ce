-- metrics_open_work: the queue's state for /metrics in one pass over deliveries, reading only the
-- rows that are not simply delivered on their first attempt (the open and the troubled ones; a
-- small set however long the history). delivered = all deliveries minus the rest (done in TS).
-- Rows (kind, key, n):
--   queue/<status>              deliveries by status, except delivered
--   retries/<n>                 webhooks whose most-retried delivery was retried n >= 1 times
--                               (raw_webhooks.retry_count); retry count 0 is the remainder
--   open|dead/all               webhooks with an open delivery, or else a dead one
--   open|dead/not_matched       of those, the ones raw_webhooks does not call processing/failed
--                               because they are unrouted (past the routing cursor, the largest
--                               routed id) or matched no rule (deliveries from replays)
--   oldest_due/NULL             epoch ms of the oldest due work: an unrouted webhook's received_at,
--                               or a pending/retrying delivery's next_attempt_at that has passed
-- $1 now.
WITH d AS MATERIALIZED (
    SELECT webhook_id, status, attempts, next_attempt_at
    FROM deliveries
    WHERE status <> 'delivered' OR attempts >= 2
),
per_webhook AS (
    SELECT webhook_id,
           CASE WHEN bool_or(status IN ('pending', 'in_flight', 'retrying')) THEN 'open'
                WHEN bool_or(status = 'dead') THEN 'dead' END AS state,
           max(attempts - 1) AS retries
    FROM d
    GROUP BY webhook_id
),
routed AS (SELECT COALESCE(max(webhook_id), 0) AS upto FROM webhook_routing)
SELECT 'queue' AS kind, status AS key, count(*) AS n FROM d WHERE status <> 'delivered' GROUP BY status
UNION ALL
SELECT 'retries', CAST(retries AS VARCHAR), count(*) FROM per_webhook WHERE retries >= 1 GROUP BY retries
UNION ALL
SELECT state, 'all', count(*) FROM per_webhook WHERE state IS NOT NULL GROUP BY state
UNION ALL
SELECT state, 'not_matched', count(*) FROM per_webhook
WHERE state IS NOT NULL
  AND (webhook_id > (SELECT upto FROM routed)
       OR webhook_id IN (SELECT webhook_id FROM webhook_routing WHERE matched = 0))
GROUP BY state
UNION ALL
SELECT 'oldest_due', NULL, epoch_ms(least(
    (SELECT min(next_attempt_at) FROM d WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $1),
    (SELECT min(received_at) FROM webhooks WHERE id > (SELECT upto FROM routed))
));
