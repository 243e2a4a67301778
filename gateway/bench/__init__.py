"""``urbanops bench``: what each hot path does on this machine, measured end to end (never asserted here)."""
