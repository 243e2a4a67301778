-- Agency channels from the city pack (#13 part 6) ride the webhook delivery machinery: a
-- subscription now has a kind (webhook, WeCom or DingTalk group robot, email), and where it
-- came from. Pack subscriptions are keyed by ``pack_key`` and re-synced when the pack changes.
ALTER TABLE webhook_subscriptions
    ADD COLUMN kind text NOT NULL DEFAULT 'webhook' CHECK (kind IN ('webhook', 'wecom', 'dingtalk', 'email')),
    ADD COLUMN origin text NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'pack')),
    ADD COLUMN pack_key text UNIQUE,
    ADD COLUMN lang text NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en'));

-- The escalation ladder's reminders: one delivery per (subscription, ticket, event, step), so
-- step 2 of a ladder is a new message while a repeat of step 2 stays a no-op.
ALTER TABLE webhook_deliveries ADD COLUMN step integer NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_subscription_id_ticket_id_event_key;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_once UNIQUE (subscription_id, ticket_id, event, step);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_check
    CHECK (event IN ('created', 'escalated', 'reminder', 'resolved'));
-- 'cancelled': a reminder still queued when someone acknowledged the ticket is not sent.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_status_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_status_check
    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled'));
