"""The triage service: inbox → correlation → tickets, stored, published, escalated."""
