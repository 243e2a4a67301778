"""Versioned prompt files for the LLM backend (data, loaded by ``triage.prompting``)."""
