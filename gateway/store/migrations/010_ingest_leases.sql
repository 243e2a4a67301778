-- Gateways on several hosts (#14 part 2): the device topic space is split into partitions, one
-- per (district, kind) — the MQTT filter city/{district}/{kind}/# — and each partition is leased
-- to one gateway at a time. The owner holds the partition's persistent MQTT session (a fixed
-- client id per partition, a plain subscription that Mosquitto keeps across restarts); a gateway
-- that takes a partition over resumes that session, so what the broker queued or had in flight
-- for the lost owner is delivered to the new one. Same lease rules as triage_leases (009).
CREATE TABLE ingest_workers (
    worker_id    text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE ingest_lease_token;

CREATE TABLE ingest_leases (
    partition  text PRIMARY KEY CHECK (partition ~ '^[a-z0-9][a-z0-9_-]{0,63}/[a-z]+$'),
    owner      text,
    token      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    moved_at   timestamptz
);
