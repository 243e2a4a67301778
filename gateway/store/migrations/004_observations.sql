-- Observations: what vision, sensors (thresholds), robots, devices and citizens report,
-- in the shape triage reads (SPEC §4). One row each; incidents group them.
CREATE TABLE observations (
    ts             timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    observation_id text NOT NULL,
    source         text NOT NULL CHECK (source IN ('vision', 'sensor', 'robot', 'citizen', 'device')),
    device_id      text,
    device_kind    text,
    district       text,
    label          text,
    confidence     double precision,
    count          integer,
    metric         text,
    value          double precision,
    text           text,
    lat            double precision,
    lon            double precision,
    place_tags     text[] NOT NULL DEFAULT '{}',
    evidence_path  text,
    incident_id    text,
    extra          jsonb NOT NULL DEFAULT '{}'
);
SELECT create_hypertable('observations', by_range('ts', INTERVAL '7 days'));
CREATE UNIQUE INDEX observations_id ON observations (observation_id, ts);
CREATE INDEX observations_district ON observations (district, ts DESC);
CREATE INDEX observations_incident ON observations (incident_id, ts DESC);
