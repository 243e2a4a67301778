-- Triage that scales out (#14 part 3): the city's incidents are split into a fixed number of
-- partitions by district, and each partition is leased to one triage worker at a time. A lease
-- has an expiry (renewed by its owner every couple of seconds) and a fencing token that grows
-- with every change of owner: a worker writes only while its (partition, token) row is still
-- its own, holding that row FOR SHARE until it commits, so an owner that stalled past its
-- expiry cannot write over its successor. Correlation state is rebuilt from the open incidents
-- stored here when a worker takes a partition over.
CREATE TABLE triage_workers (
    worker_id    text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE triage_lease_token;

CREATE TABLE triage_leases (
    partition  integer PRIMARY KEY,
    owner      text,
    token      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    moved_at   timestamptz
);
-- 16 partitions: enough to spread a city over a handful of workers; changing the number moves
-- every district, so it is part of the schema, not a setting.
INSERT INTO triage_leases (partition) SELECT g FROM generate_series(0, 15) g;

-- The partition of a district (NULL: the partition of '').
CREATE FUNCTION triage_partition(district text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((hashtext(coalesce(district, ''))::bigint + 2147483648) % 16)::integer $$;
CREATE INDEX incidents_open_partition ON incidents (triage_partition(district)) WHERE status = 'open';

-- Threshold hysteresis rebuilt from the database (gateway/ingest/observe.py): a device's last
-- sensor observation per metric, found without a scan.
CREATE INDEX observations_device_metric ON observations (device_id, metric, ts DESC) WHERE source = 'sensor';
