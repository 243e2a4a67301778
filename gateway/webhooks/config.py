"""Delivery settings (``URBANOPS_WEBHOOK_*``, ``URBANOPS_SMTP_*``, filled by the runtime)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    poll_s: float = 0.5  # how often ticket_history is read and due deliveries are tried
    timeout_s: float = 5.0  # per HTTP request
    backoff_base_s: float = 2.0  # first retry after this, doubling each time ...
    backoff_cap_s: float = 300.0  # ... up to this
    max_attempts: int = 12  # then 'failed' (visible in the API, retryable by an admin)
    # A history row is re-read for this long so a transaction committing late is not missed.
    reread_s: float = 30.0
    # E-mail channels (URBANOPS_SMTP_*): the city's own relay.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "urbanops@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # A ladder step more than this late (a ticket far past its SLA when the gateway starts) is skipped.
    ladder_window_s: float = 86_400.0

    def backoff_s(self, attempts: int) -> float:
        return min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(0, attempts - 1))
