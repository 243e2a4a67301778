#!/usr/bin/env bash
# Builds TimescaleDB (Apache edition) from Debian 13's source package against the
# installed PostgreSQL. Bookworm ships no timescaledb package; trixie's source builds
# cleanly against PG 15. Idempotent: does nothing when the extension is installed.
set -euo pipefail
PGMAJOR=${PGMAJOR:-$(ls /usr/lib/postgresql | sort -n | tail -1)}
if [ -f "/usr/share/postgresql/$PGMAJOR/extension/timescaledb.control" ]; then
  exit 0
fi
echo "[setup] building TimescaleDB for PostgreSQL $PGMAJOR (once, ~1 min)"
work=$(mktemp -d /tmp/urbanops-tsdb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
apt_private=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
             -o "Dir::State::Lists=$work/lists" -o "APT::Get::List-Cleanup=0")
apt-get "${apt_private[@]}" -qq update
# Pin the dev package to the installed server version, or apt would upgrade PostgreSQL.
pgver=$(dpkg-query -W -f='${Version}' "postgresql-$PGMAJOR")
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "postgresql-server-dev-$PGMAJOR=$pgver" cmake dpkg-dev libssl-dev >/dev/null
(cd "$work" && apt-get "${apt_private[@]}" -qq source --download-only timescaledb >/dev/null \
   && dpkg-source -x --no-check timescaledb_*.dsc src >/dev/null)
cd "$work/src"
cmake -S . -B build -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
  -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG="/usr/lib/postgresql/$PGMAJOR/bin/pg_config" >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cmake --install build >/dev/null
echo "[setup] TimescaleDB installed"
