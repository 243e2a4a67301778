"""Agency webhooks: signed ticket notifications with retries and a delivery log."""

from gateway.webhooks.config import WebhookConfig
from gateway.webhooks.service import WebhookService

__all__ = ["WebhookConfig", "WebhookService"]
