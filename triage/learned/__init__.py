"""The learned triage backend: a linear zh/en text model under the rules' policy.

See ``triage/learned/README.md``.
"""
