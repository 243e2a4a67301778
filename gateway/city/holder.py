"""One city pack for the whole gateway, swapped atomically on reload.

Readers call ``holder.pack`` each time they need the city (a reference read, no lock), so a
reload reaches the API, triage and vision without restarting them. A reload that finds a
problem keeps the running pack and reports every problem; listeners (vision's zone rules)
are told only of packs that loaded.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from citypack import CityPack, PackError, load_pack
from citypack.knowledge import Passage

log = logging.getLogger(__name__)


def timezone_name(override: str | None, pack: CityPack) -> str:
    """The city's clock: ``URBANOPS_CITY_TIMEZONE`` when set, else the pack's (one rule for triage and the page)."""
    return override or pack.config.timezone


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    pack_id: str
    sha256: str
    problems: list[str] = field(default_factory=list)


class CityHolder:
    def __init__(self, directory: Path, pack: CityPack | None = None) -> None:
        """Loads ``directory`` now (``PackError`` if it cannot: the gateway must not start without a city)."""
        self.directory = directory
        self._pack = pack or load_pack(directory)
        self._pack.knowledge  # noqa: B018  (index the plans now, not on the first ticket)
        self._lock = threading.Lock()  # one reload at a time
        self.listeners: list[Callable[[CityPack], None]] = []
        self._names: dict[tuple[str, float, float, str | None], dict[str, str]] = {}  # address cache

    @property
    def pack(self) -> CityPack:
        return self._pack

    def reload(self) -> ReloadResult:
        with self._lock:
            try:
                fresh = load_pack(self.directory)
                fresh.knowledge  # noqa: B018  (indexed before the swap: the first ticket after waits for nothing)
            except PackError as err:
                log.error("city pack reload refused, keeping %s (%s): %s", self._pack.id, self._pack.sha256[:12], err)
                return ReloadResult(False, self._pack.id, self._pack.sha256, [str(p) for p in err.problems])
            self._pack = fresh
            for listener in self.listeners:
                try:
                    listener(fresh)
                except Exception:  # a listener's bug must not undo a good reload
                    log.exception("city pack listener failed")
            log.info("city pack %s loaded (%s)", fresh.id, fresh.sha256[:12])
            return ReloadResult(True, fresh.id, fresh.sha256)

    def install_sighup(self) -> bool:
        """Reload on SIGHUP (main thread only, where Python delivers signals)."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
            return False
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, name="city-reload",
                                                                  daemon=True).start())
        return True

    # --- what triage asks of the city (triage.ticket.CityContext) ---------------------------

    def sla(self, category: str, severity: str) -> timedelta:
        return self._pack.config.sla.due_after(category, severity)

    def where(self, lat: float, lon: float, district: str | None, lang: str) -> str | None:
        return self._pack.address(lat, lon, lang, district).text(lang)

    def names(self, lat: float, lon: float, district: str | None) -> dict[str, str]:
        """The address in each of the city's languages (``{"zh": "福田区 …", "en": "…, Futian"}``), cached:
        the incident list asks for the same points again and again."""
        pack = self._pack
        key = (pack.sha256, round(lat, 6), round(lon, 6), district)
        found = self._names.get(key)
        if found is None:
            if len(self._names) > 20_000:
                self._names.clear()
            found = {lang: text for lang in pack.config.languages
                     if (text := pack.address(lat, lon, lang, district).text(lang)) is not None}
            self._names[key] = found
        return found

    def passages(self, query: str, lang: str, categories: Sequence[str], k: int) -> Sequence[Passage]:
        return self._pack.knowledge.search(query, lang, categories, k)
