"""Observations to correlated incidents and emergency tickets."""
