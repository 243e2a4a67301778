"""Container health check for the gateway image: exit 0 when ``/healthz`` answers 200.

Usage: urbanops-healthcheck [URL]   (default http://127.0.0.1:8000/healthz)

It checks liveness only: ``/healthz`` answers 200 with ``"status": "degraded"`` while
the database is down, and restarting the gateway would not bring the database back.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as res:  # the URL is a fixed local one
            return 0 if res.status == 200 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"healthcheck: {url}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
