"""The gateway: the composition root that wires devices, store, vision and triage."""
