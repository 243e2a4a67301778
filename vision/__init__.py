"""Camera frames to located, privacy-safe observations."""
