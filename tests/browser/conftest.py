"""Browser tests reuse the API fixtures: a live uvicorn server on a fresh database."""

from tests.api.conftest import db as db
from tests.api.conftest import tokens as tokens
from tests.api_tickets.conftest import data_dir as data_dir
from tests.api_tickets.conftest import live_server as live_server
from tests.api_tickets.conftest import seed as seed
