"""Tests of the triage package (rules, llm, correlation, exports, CLI)."""
