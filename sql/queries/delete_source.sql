-- delete_source: removes a source. $1 name. Returns the removed name (no row when unknown).
DELETE FROM sources WHERE name = $1 RETURNING name;
