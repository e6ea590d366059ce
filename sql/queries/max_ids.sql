-- max_ids: where the in-process id counters resume after a restart.
SELECT (SELECT COALESCE(max(id), 0) FROM webhooks) AS webhook,
       (SELECT COALESCE(max(id), 0) FROM deliveries) AS delivery,
       (SELECT COALESCE(max(id), 0) FROM delivery_attempts) AS attempt,
       (SELECT COALESCE(max(webhook_id), 0) FROM webhook_routing) AS routed;
