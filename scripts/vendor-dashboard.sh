#!/usr/bin/env bash
# Re-vendor the dashboard's map and chart libraries from npm (pinned; npm checks each tarball's integrity).
# The dashboard never loads anything from a CDN: these files are committed and served by the
# gateway (gateway/dashboard/vendor/), so the map works on a network with no way out.
# Run by hand when upgrading; CI and tests use the committed files (tests/browser check SHA256SUMS).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/gateway/dashboard/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent leaflet@1.9.4 leaflet.markercluster@1.5.3 pmtiles@4.5.0 uplot@1.6.32 >/dev/null
for t in *.tgz; do mkdir -p "${t%.tgz}"; tar xzf "$t" -C "${t%.tgz}"; done
rm -rf "$out" && mkdir -p "$out/images"
cp leaflet-1.9.4/package/dist/leaflet.js leaflet-1.9.4/package/dist/leaflet.css "$out/"
cp leaflet-1.9.4/package/dist/images/*.png "$out/images/"
cp leaflet-1.9.4/package/LICENSE "$out/LICENSE.leaflet"
cp leaflet.markercluster-1.5.3/package/dist/leaflet.markercluster.js \
   leaflet.markercluster-1.5.3/package/dist/MarkerCluster.css \
   leaflet.markercluster-1.5.3/package/dist/MarkerCluster.Default.css "$out/"
cp leaflet.markercluster-1.5.3/package/MIT-LICENCE.txt "$out/LICENSE.markercluster"
cp pmtiles-4.5.0/package/dist/pmtiles.js "$out/"
cp pmtiles-4.5.0/package/LICENSE "$out/LICENSE.pmtiles" 2>/dev/null || \
  printf 'pmtiles 4.5.0, BSD-3-Clause (https://github.com/protomaps/PMTiles)\n' > "$out/LICENSE.pmtiles"
cp uplot-1.6.32/package/dist/uPlot.iife.min.js uplot-1.6.32/package/dist/uPlot.min.css "$out/"
cp uplot-1.6.32/package/LICENSE "$out/LICENSE.uplot"
cat > "$out/VERSIONS" <<V
leaflet 1.9.4 (BSD-2-Clause)
leaflet.markercluster 1.5.3 (MIT)
pmtiles 4.5.0 (BSD-3-Clause)
uplot 1.6.32 (MIT)
V
(cd "$out" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
echo "vendored into $out"
