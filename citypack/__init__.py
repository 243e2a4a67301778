"""A city as data: districts, zones, places, agencies, SLA, escalation and plans from a directory.

See ``citypack/README.md`` for the format. Depends only on ``devices`` (the topic vocabulary).
"""

from citypack.config import CityConfig, Sla
from citypack.errors import PackError, Problem
from citypack.pack import DEMO_PACK, SHIPPED, Address, CityPack, load_pack

__all__ = ["DEMO_PACK", "SHIPPED", "Address", "CityConfig", "CityPack", "PackError", "Problem", "Sla", "load_pack"]
