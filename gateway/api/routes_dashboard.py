"""``/``: the static dashboard page; its assets under ``/dashboard/``.

The page is public (it holds no data); it calls the API with the token the user signs in
with. ``/dashboard/config.json`` is public too: the city's time zone, which the page shows
every time in (no data either). The content security policy allows only this origin, so
the page cannot pull anything from a CDN by accident and injected markup cannot load scripts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, status
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway.api.deps import City, SettingsDep
from gateway.city import timezone_name

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
BASEMAP_PATH = "/dashboard/basemap.pmtiles"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
    " form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def mount(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(
            DASHBOARD_DIR / "index.html", media_type="text/html", headers=SECURITY_HEADERS
        )

    # Registered before the static mount, which would otherwise answer 404 for it.
    @app.get("/dashboard/config.json", include_in_schema=False)
    async def config(settings: SettingsDep, city: City) -> JSONResponse:
        # The city's clock and name (public, like the page): the pack's, unless the setting overrides the clock.
        pack = city.pack
        body = {"city_timezone": timezone_name(settings.city_timezone, pack),
                "city": {"id": pack.id, "zh": pack.config.name.zh, "en": pack.config.name.en}}
        if settings.basemap_pmtiles is not None:
            body["basemap"] = BASEMAP_PATH
        return JSONResponse(body, headers=SECURITY_HEADERS)

    # The city's own base map (raster PMTiles), read by the page with HTTP range requests: map
    # tiles, no incident data, so public like the page. Absent unless URBANOPS_BASEMAP_PMTILES is set.
    @app.get(BASEMAP_PATH, include_in_schema=False)
    async def basemap(settings: SettingsDep) -> FileResponse:
        path = settings.basemap_pmtiles
        if path is None or not path.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no base map configured")
        return FileResponse(path, media_type="application/octet-stream",
                            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})

    app.mount("/dashboard", StaticFiles(directory=DASHBOARD_DIR), name="dashboard")
