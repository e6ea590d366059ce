-- history_bounds: the id range of the webhooks received in [$1, $2) (timestamps), and how many.
SELECT min(id) AS lo, max(id) AS hi, count(*) AS n
FROM webhooks
WHERE received_at >= $1 AND received_at < $2;
