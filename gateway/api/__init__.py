"""The gateway's HTTP API and dashboard (FastAPI); build it with ``create_app``."""

from gateway.api.app import create_app

__all__ = ["create_app"]
