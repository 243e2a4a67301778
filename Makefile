# The two set-up commands of the README. Both do all set-up themselves (scripts/bootstrap.sh).
DURATION ?=
PYTEST_ARGS ?=
VENV := .venv/bin

.PHONY: setup demo test check lint typecheck imports unit bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(VENV)/urbanops demo $(if $(DURATION),--duration $(DURATION),)

lint: setup
	$(VENV)/ruff check devices citypack gateway vision triage simulators tests

typecheck: setup
	$(VENV)/mypy

# The one-way package dependencies ([tool.importlinter] in pyproject.toml).
imports: setup
	$(VENV)/lint-imports

# The tests that need no Mosquitto, PostgreSQL, browser or real LLM (tests/conftest.py marks the others).
unit: setup
	$(VENV)/pytest -m "not services and not model and not slow" -q $(PYTEST_ARGS)

# Everyday: lint, types, import contracts, fast unit tests (~1.5 min here; README "Layout and dependencies").
check: setup lint typecheck imports unit

test: setup lint typecheck imports
	$(VENV)/pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/urbanops bench ingest

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
