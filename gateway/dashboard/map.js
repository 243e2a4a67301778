// urbanops dashboard: the city map, drawn with the vendored Leaflet (no CDN, no tiles by default).
// Layers: district outlines, zones, streets and named places from the city pack
// (/api/v1/map/layers.geojson); devices (/api/v1/devices), clustered at city scale; incidents
// (kept up to date by ops.js), each with a popup that shows its evidence image. An optional
// offline base map: a raster PMTiles file the city supplies (URBANOPS_BASEMAP_PMTILES), read
// with HTTP range requests from this gateway. Labels are DOM text, so Chinese needs no network.
"use strict";

const mapState = { layers: null, devices: [], incidents: [], selected: null, onPick: null,
  map: null, groups: null, district: undefined, basemap: null, popupUrl: null };
const PLACE_LABEL_ZOOM = 14; // place names show from this zoom; below, they are tooltips

// A district's name in the current language: the layer's name_<lang> (name_zh for zh-CN) when it
// has one, else its id with a capital ("futian" -> "Futian").
function districtName(id) {
  if (!id) return "?";
  const f = (mapState.layers ? mapState.layers.features : [])
    .find((x) => x.properties.kind === "district" && x.id === id);
  const p = f ? f.properties : {};
  const own = p["name_" + i18n.lang] || p["name_" + i18n.lang.split("-")[0]];
  if (own && i18n.lang !== DEFAULT_LANGUAGE) return own;
  const name = p.name || id;
  return name[0].toUpperCase() + name.slice(1).replace(/_/g, " ");
}

// Where an incident is, as the city says it, in the page's language (the API's address per language).
function incidentPlace(inc) {
  const names = inc.address || {};
  return names[i18n.lang.split("-")[0]] || inc.place || districtName(inc.district);
}

// A place's or street's name in the current language (the pack gives name_zh and name_en).
function placeName(p) {
  return p["name_" + i18n.lang.split("-")[0]] || p.name_en || p.name || "";
}

async function loadMapLayers() {
  mapState.layers = await api("/api/v1/map/layers.geojson");
}

async function loadMapDevices() {
  try {
    const page = await api("/api/v1/devices", { limit: 1000 });
    mapState.devices = page.items.filter((d) => d.position);
  } catch (err) {
    mapState.devices = [];
  }
}

function ensureMap() {
  if (mapState.map) return mapState.map;
  const map = L.map("map", { zoomSnap: 0.25, minZoom: 9, maxZoom: 19, attributionControl: true });
  map.attributionControl.setPrefix(false);
  mapState.groups = {
    districts: L.layerGroup().addTo(map), zones: L.layerGroup().addTo(map), streets: L.layerGroup().addTo(map),
    places: L.layerGroup().addTo(map),
    devices: L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 45 }).addTo(map),
    incidents: L.layerGroup().addTo(map),
  };
  map.on("zoomend", () => {
    $("map").classList.toggle("near", map.getZoom() >= PLACE_LABEL_ZOOM);
    $("map").dataset.zoom = String(map.getZoom()); // for people's tools and the tests
  });
  mapState.map = map;
  addBasemap(map);
  return map;
}

function addBasemap(map) {
  const url = i18n.basemap;
  if (!url || typeof pmtiles === "undefined" || mapState.basemap) return;
  mapState.basemap = pmtiles.leafletRasterLayer(new pmtiles.PMTiles(url), { attribution: t("map.basemap_attribution") });
  mapState.basemap.addTo(map);
  mapState.basemap.bringToBack();
}

// Pack layers: redrawn on a new pack or language (names), not on every feed update.
function drawPackLayers() {
  const g = mapState.groups;
  for (const k of ["districts", "zones", "streets", "places"]) g[k].clearLayers();
  const district = $("inc-district").value;
  for (const f of mapState.layers.features) {
    const p = f.properties;
    if (p.kind === "district") {
      const layer = L.geoJSON(f, { style: { className: "district" + (f.id === district ? " active" : "") } });
      layer.bindTooltip(districtName(f.id), { permanent: true, direction: "center", className: "district-label" });
      g.districts.addLayer(layer);
    } else if (p.kind === "zone") {
      const name = p.name || p.kind_of_zone || p.source || t("map.legend_zone");
      g.zones.addLayer(L.geoJSON(f, { style: { className: "zone" } }).bindTooltip(String(name)));
    } else if (p.kind === "street") {
      g.streets.addLayer(L.geoJSON(f, { style: { className: "street" } }).bindTooltip(placeName(p), { sticky: true }));
    } else if (p.kind === "place") {
      const [lon, lat] = f.geometry.coordinates;
      const m = L.circleMarker([lat, lon], { radius: 3, className: "place" });
      m.bindTooltip(placeName(p), { permanent: true, direction: "right", className: "place-label" });
      g.places.addLayer(m);
    }
  }
}

function deviceIcon(d) {
  const low = d.battery_pct !== null && d.battery_pct < 20;
  return L.divIcon({ className: "device-icon " + (d.online ? "on" : "off") + (low ? " low" : ""), iconSize: [10, 10] });
}

function incidentIcon(inc) {
  const big = inc.severity === "critical" || inc.severity === "high";
  return L.divIcon({ className: `incident-icon sev-${inc.severity || "informational"}` +
    (inc.incident_id === mapState.selected ? " selected" : ""), iconSize: big ? [18, 18] : [14, 14] });
}

// The popup: what, where, when, and the newest evidence image (fetched with the token, shown as a blob).
async function incidentPopup(inc, marker) {
  const box = el("div", null, "incident-popup");
  box.dataset.incident = inc.incident_id;
  box.append(el("strong", t("map.popup_title", { severity: label("severity", inc.severity),
    category: label("category", inc.category) })),
    el("div", incidentPlace(inc)), el("div", formatDateTime(inc.opened_at || inc.updated_at), "muted"));
  marker.bindPopup(box, { maxWidth: 280, minWidth: 200 }).openPopup();
  try {
    const detail = await api("/api/v1/incidents/" + encodeURIComponent(inc.incident_id));
    const withImage = detail.observations.filter((o) => o.evidence_url);
    if (!withImage.length) { box.append(el("div", t("map.no_evidence"), "muted")); return; }
    const o = withImage[withImage.length - 1];
    const res = await fetch(o.evidence_url, { headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) } });
    if (!res.ok) { box.append(el("div", t("incident.evidence_unavailable"), "muted")); return; }
    if (mapState.popupUrl) URL.revokeObjectURL(mapState.popupUrl);
    mapState.popupUrl = URL.createObjectURL(await res.blob());
    const img = el("img", null, "popup-evidence");
    img.src = mapState.popupUrl;
    img.alt = t("incident.evidence_alt", { source: o.device_id || label("source", o.source) });
    img.onload = () => marker.getPopup() && marker.getPopup().update();
    box.append(img);
  } catch (err) {
    box.append(el("div", t("incident.evidence_unavailable"), "muted"));
  }
}

function drawMap() {
  if (!$("map") || !mapState.layers) return;
  const map = ensureMap();
  const district = $("inc-district").value;
  if (mapState.drawnFor !== i18n.lang + "|" + district + "|" + mapState.layers.features.length) {
    drawPackLayers();
    mapState.drawnFor = i18n.lang + "|" + district + "|" + mapState.layers.features.length;
  }
  if (mapState.district !== district) { // fit the chosen district (or the whole city) once per choice
    const feats = mapState.layers.features.filter((f) => f.properties.kind === "district" && (!district || f.id === district));
    if (feats.length) map.fitBounds(L.geoJSON({ type: "FeatureCollection", features: feats }).getBounds(), { padding: [8, 8] });
    mapState.district = district;
  }
  const g = mapState.groups;
  g.devices.clearLayers();
  g.devices.addLayers(mapState.devices.map((d) => {
    const battery = d.battery_pct === null ? t("map.battery_unknown") : t("map.battery", { n: d.battery_pct.toFixed(0) });
    return L.marker([d.position.lat, d.position.lon], { icon: deviceIcon(d), keyboard: false })
      .bindTooltip(t("map.device_title", { id: d.device_id, kind: label("kind", d.kind), state: label("state", d.state), battery }));
  }));
  // Incidents are updated in place (by id), so an open popup survives the feed's next update.
  const markers = mapState.incidentMarkers || (mapState.incidentMarkers = new Map());
  const shown = new Set();
  for (const inc of mapState.incidents) {
    if (inc.lat === null || inc.lat === undefined || inc.lon === null || inc.lon === undefined) continue;
    shown.add(inc.incident_id);
    let m = markers.get(inc.incident_id);
    if (!m) {
      m = L.marker([inc.lat, inc.lon], { zIndexOffset: 1000 });
      m.on("add", () => { if (m.getElement()) m.getElement().dataset.incident = inc.incident_id; });
      m.on("click", () => { incidentPopup(m.incident, m); if (mapState.onPick) mapState.onPick(m.incident.incident_id); });
      markers.set(inc.incident_id, m);
      g.incidents.addLayer(m);
    }
    m.incident = inc;
    m.setLatLng([inc.lat, inc.lon]);
    m.setIcon(incidentIcon(inc));
    const node = m.getElement();
    if (node) {
      node.dataset.incident = inc.incident_id;
      node.title = t("map.incident_title", { id: inc.incident_id, severity: label("severity", inc.severity),
        category: label("category", inc.category) });
    }
  }
  for (const [id, m] of markers) {
    if (!shown.has(id)) { g.incidents.removeLayer(m); markers.delete(id); }
  }
  $("map-title").textContent = t("map.subtitle", { name: district ? districtName(district) : t("filter.all_districts") });
}
