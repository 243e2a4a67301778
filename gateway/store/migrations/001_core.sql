-- Core schema: device registry, narrow telemetry, positions, events, status history,
-- dead letters. Hypertables partition by the device's own timestamp.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE devices (
    device_id     text PRIMARY KEY,
    district      text NOT NULL,
    kind          text NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'unknown',
    state_ts      timestamptz,
    battery_pct   double precision,
    lat           double precision,
    lon           double precision,
    alt_m         double precision,
    position_ts   timestamptz,
    firmware      text,
    clock_skew_s  double precision,
    messages      bigint NOT NULL DEFAULT 0
);
CREATE INDEX devices_district ON devices (district, kind);

-- One row per metric per message (narrow): new metrics need no migration.
CREATE TABLE telemetry (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    msg_id      text NOT NULL,
    received_at timestamptz NOT NULL
);
SELECT create_hypertable('telemetry', by_range('ts', INTERVAL '1 day'));
-- Serves range queries per device and metric, and makes a QoS 1 redelivery a no-op.
CREATE UNIQUE INDEX telemetry_dedupe ON telemetry (device_id, metric, ts, msg_id);

CREATE TABLE positions (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    alt_m       double precision,
    msg_id      text NOT NULL
);
SELECT create_hypertable('positions', by_range('ts', INTERVAL '1 day'));
CREATE UNIQUE INDEX positions_dedupe ON positions (device_id, ts, msg_id);

CREATE TABLE events (
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    device_id   text NOT NULL,
    district    text NOT NULL,
    kind        text NOT NULL,
    msg_id      text NOT NULL,
    label       text NOT NULL,
    confidence  double precision,
    text        text,
    value       double precision,
    unit        text,
    lat         double precision,
    lon         double precision,
    cmd_id      text
);
SELECT create_hypertable('events', by_range('ts', INTERVAL '7 days'));
CREATE UNIQUE INDEX events_dedupe ON events (device_id, ts, msg_id);
CREATE INDEX events_district ON events (district, ts DESC);

CREATE TABLE device_status (
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    device_id   text NOT NULL,
    state       text NOT NULL,
    battery_pct double precision,
    msg_id      text NOT NULL
);
SELECT create_hypertable('device_status', by_range('ts', INTERVAL '7 days'));
CREATE UNIQUE INDEX device_status_dedupe ON device_status (device_id, ts, msg_id);

CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    reason       text NOT NULL,
    payload_size integer NOT NULL,
    payload_excerpt text NOT NULL,
    device_id    text
);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);

-- API bearer tokens; only a SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('operator', 'manager', 'admin')),
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    last_used_at timestamptz
);
