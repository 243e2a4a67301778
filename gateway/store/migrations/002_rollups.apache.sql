-- Apache-licensed TimescaleDB has no continuous aggregates: the gateway maintains this
-- one-minute rollup itself (gateway/store/maintenance.py), recomputing recent buckets.
CREATE TABLE telemetry_1m (
    bucket    timestamptz NOT NULL,
    device_id text NOT NULL,
    metric    text NOT NULL,
    avg       double precision NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (device_id, metric, bucket)
);
SELECT create_hypertable('telemetry_1m', by_range('bucket', INTERVAL '7 days'));

CREATE TABLE maintenance_state (
    name  text PRIMARY KEY,
    value timestamptz NOT NULL
);
