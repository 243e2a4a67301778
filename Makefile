# The two set-up commands of the README. Both do all set-up themselves (scripts/bootstrap.sh).
DURATION ?=
PYTEST_ARGS ?=
VENV := .venv/bin

.PHONY: setup demo test lint typecheck bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(VENV)/urbanops demo $(if $(DURATION),--duration $(DURATION),)

lint: setup
	$(VENV)/ruff check devices gateway vision triage simulators tests

typecheck: setup
	$(VENV)/mypy

test: setup lint typecheck
	$(VENV)/pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/urbanops bench ingest

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
