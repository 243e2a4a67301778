"""Edge sites: a drone dock's or robot depot's own broker, bridged to the city's."""
