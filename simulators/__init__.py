"""Simulated drones, robots and sensors, scenarios with ground truth."""
