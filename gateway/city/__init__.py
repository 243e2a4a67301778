"""The gateway's city: the loaded pack, reloaded on SIGHUP or an admin call (``holder``)."""

from gateway.city.holder import CityHolder, ReloadResult, timezone_name

__all__ = ["CityHolder", "ReloadResult", "timezone_name"]
