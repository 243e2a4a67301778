"""Static dashboard assets served by ``gateway.api.routes_dashboard`` (a package so that
setuptools ships the files)."""
