-- Timescale-licensed TimescaleDB (the timescale/timescaledb image): a real continuous
-- aggregate with a refresh policy, retention and compression policies.
CREATE MATERIALIZED VIEW telemetry_1m WITH (timescaledb.continuous) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket, device_id, metric,
       avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS count
FROM telemetry
GROUP BY bucket, device_id, metric
WITH NO DATA;
SELECT add_continuous_aggregate_policy('telemetry_1m',
    start_offset => INTERVAL '1 hour', end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute');
ALTER TABLE telemetry SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id, metric');
SELECT add_compression_policy('telemetry', INTERVAL '7 days');
SELECT add_retention_policy('telemetry', INTERVAL '30 days');

CREATE TABLE maintenance_state (
    name  text PRIMARY KEY,
    value timestamptz NOT NULL
);
