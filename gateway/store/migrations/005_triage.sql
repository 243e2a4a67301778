-- Incidents, their tickets, every human or machine action on a ticket, the triage audit,
-- and the inbox through which new observations reach the triage service.
CREATE TABLE incidents (
    incident_id       text PRIMARY KEY,
    district          text,
    category          text,
    severity          text,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    lat               double precision,
    lon               double precision,
    place_tags        text[] NOT NULL DEFAULT '{}',
    observation_count integer NOT NULL DEFAULT 0,
    body              jsonb NOT NULL          -- the incident as triaged (SPEC §4 input shape)
);
CREATE INDEX incidents_feed ON incidents (updated_at DESC, incident_id);
CREATE INDEX incidents_filter ON incidents (district, category, severity);

CREATE TABLE tickets (
    ticket_id       text PRIMARY KEY,
    incident_id     text NOT NULL UNIQUE REFERENCES incidents (incident_id),
    district        text,
    category        text NOT NULL,
    severity        text NOT NULL,
    agency          text NOT NULL,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'assigned', 'escalated', 'resolved')),
    needs_review    boolean NOT NULL,
    sla_due         timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    assigned_to     text,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    escalated_at    timestamptz,
    overrides       jsonb NOT NULL DEFAULT '{}',  -- fields a person set; triage never changes them back
    body            jsonb NOT NULL                -- the ticket (SPEC §4 output shape)
);
CREATE INDEX tickets_queue ON tickets (status, severity, sla_due);
CREATE INDEX tickets_agency ON tickets (agency, status);

CREATE TABLE ticket_history (
    id        bigserial PRIMARY KEY,
    ticket_id text NOT NULL REFERENCES tickets (ticket_id),
    ts        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,           -- 'triage:rules', 'triage:llm', 'system', or a token's name
    action    text NOT NULL,           -- created, retriaged, ack, assign, note, resolve, reopen, override, escalate
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, ts);

CREATE TABLE triage_audit (
    ts          timestamptz NOT NULL,
    incident_id text NOT NULL,
    ticket_id   text,
    backend     text NOT NULL,
    model       text,
    latency_ms  double precision,
    record      jsonb NOT NULL            -- model sha256, prompt version/hash, observations, raw output, validation
);
SELECT create_hypertable('triage_audit', by_range('ts', INTERVAL '30 days'));
CREATE INDEX triage_audit_incident ON triage_audit (incident_id, ts DESC);

-- Durable hand-off: writers insert, the triage service deletes what it has processed in the
-- same transaction, so a crash or restart loses nothing and several writers can feed it.
CREATE TABLE triage_inbox (
    id             bigserial PRIMARY KEY,
    observation_id text NOT NULL,
    ts             timestamptz NOT NULL,
    enqueued_at    timestamptz NOT NULL DEFAULT now()
);
