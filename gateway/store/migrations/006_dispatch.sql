-- Closed loop: tasks given to robots/drones for tickets, and agency webhooks.

-- One row per attempt to have a device act on a ticket. ``task_id`` is also the command's
-- msg_id, which the device echoes as ``cmd_id`` in its cmd_ack/task_* events.
-- A 'proposed' row waits for approval (approved_by) and may have no device yet: the
-- dispatcher picks the nearest idle one when it sends.
CREATE TABLE tasks (
    task_id      text PRIMARY KEY,
    ticket_id    text NOT NULL REFERENCES tickets (ticket_id),
    device_id    text,
    district     text,
    kind         text NOT NULL,
    action       text NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    status       text NOT NULL CHECK (status IN ('proposed', 'sent', 'acked', 'in_progress', 'done',
                                                 'failed', 'expired', 'cancelled')),
    deadline     timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    progress_pct double precision,
    approved_by  text,
    approved_at  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    acked_at     timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    detail       text
);
-- Never two live tasks for one device, never two live tasks for one ticket: the database
-- refuses the second one even if two dispatchers race.
CREATE UNIQUE INDEX tasks_one_per_device ON tasks (device_id) WHERE status IN ('sent', 'acked', 'in_progress');
CREATE UNIQUE INDEX tasks_one_per_ticket ON tasks (ticket_id)
    WHERE status IN ('proposed', 'sent', 'acked', 'in_progress');
CREATE INDEX tasks_ticket ON tasks (ticket_id, created_at);
CREATE INDEX tasks_live ON tasks (status) WHERE status IN ('proposed', 'sent', 'acked', 'in_progress');

CREATE TABLE webhook_subscriptions (
    id         bigserial PRIMARY KEY,
    agency     text NOT NULL,
    url        text NOT NULL,
    secret     text NOT NULL,
    events     text[] NOT NULL DEFAULT '{created,escalated,resolved}',
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_agency ON webhook_subscriptions (agency) WHERE active;

-- One row per (subscription, ticket, event): the unique key is what makes delivery
-- exactly-once per event on our side; its id travels as the Idempotency-Key header so a
-- receiver can drop a retry whose first try it did get.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    ticket_id       text NOT NULL,
    event           text NOT NULL CHECK (event IN ('created', 'escalated', 'resolved')),
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    last_error      text,
    last_status     integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription_id, ticket_id, event)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (created_at DESC);

-- How far the webhook feeder has read ticket_history (enqueue and cursor move in one transaction).
CREATE TABLE webhook_cursor (
    name    text PRIMARY KEY,
    last_id bigint NOT NULL
);
