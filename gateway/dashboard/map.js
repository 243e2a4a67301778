// urbanops dashboard: the district map, drawn in plain SVG from GeoJSON (no basemap tiles).
// Layers: district outlines and named places and zones (/api/v1/map/layers.geojson), devices
// (/api/v1/devices: online/offline, battery) and incidents (kept up to date by ops.js).
"use strict";

const mapState = { layers: null, devices: [], incidents: [], selected: null, onPick: null };
const MAP_W = 640, MAP_H = 440, MAP_PAD = 12;

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

// The box to show: the chosen district's outline, else every district.
function mapBounds(district) {
  const feats = (mapState.layers ? mapState.layers.features : [])
    .filter((f) => f.properties.kind === "district" && (!district || f.id === district));
  let w = 180, e = -180, s = 90, n = -90;
  for (const f of feats) {
    for (const [lon, lat] of f.geometry.coordinates[0]) {
      w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
    }
  }
  if (w > e) return { w: 113.88, e: 114.22, s: 22.47, n: 22.62 };
  return { w, e, s, n };
}

// Equirectangular, scaled by cos(latitude) so a kilometre is as long east as north.
function projection(b) {
  const k = Math.cos(((b.s + b.n) / 2) * Math.PI / 180);
  const scale = Math.min((MAP_W - 2 * MAP_PAD) / ((b.e - b.w) * k), (MAP_H - 2 * MAP_PAD) / (b.n - b.s));
  const ox = (MAP_W - (b.e - b.w) * k * scale) / 2, oy = (MAP_H - (b.n - b.s) * scale) / 2;
  return (lon, lat) => [ox + (lon - b.w) * k * scale, oy + (b.n - lat) * scale];
}

function ringPoints(ring, project) {
  return ring.map(([lon, lat]) => project(lon, lat).map((v) => v.toFixed(1)).join(",")).join(" ");
}

function titled(node, text) {
  node.append(svg("title", {}, text));
  return node;
}

function drawZone(root, f, project) {
  const g = f.geometry;
  const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
  const name = f.properties.name || f.properties.kind_of_zone || f.properties.source || t("map.legend_zone");
  for (const poly of polys) {
    root.append(titled(svg("polygon", { points: ringPoints(poly[0], project), class: "zone" }), String(name)));
  }
}

function drawMap() {
  const box = $("map");
  if (!box || !mapState.layers) return;
  const district = $("inc-district").value;
  const project = projection(mapBounds(district));
  const root = svg("svg", { viewBox: `0 0 ${MAP_W} ${MAP_H}`, role: "img", "aria-label": t("map.aria") });
  for (const f of mapState.layers.features) {
    const p = f.properties;
    if (p.kind === "district") {
      root.append(titled(svg("polygon", { points: ringPoints(f.geometry.coordinates[0], project),
        class: "district" + (p.name === district ? " active" : "") }), districtName(f.id)));
      const [x, y] = project(f.geometry.coordinates[0][3][0], f.geometry.coordinates[0][3][1]);
      root.append(svg("text", { x: x + 6, y: y + 16, class: "label" }, districtName(f.id)));
    } else if (p.kind === "zone") {
      drawZone(root, f, project);
    }
  }
  for (const f of mapState.layers.features.filter((f) => f.properties.kind === "street")) {
    const lines = f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const line of lines) {
      root.append(titled(svg("polyline", { points: ringPoints(line, project), class: "street" }), placeName(f.properties)));
    }
  }
  for (const f of mapState.layers.features.filter((f) => f.properties.kind === "place")) {
    const [x, y] = project(...f.geometry.coordinates);
    root.append(titled(svg("circle", { cx: x, cy: y, r: 2.5, class: "place" }), placeName(f.properties)));
  }
  for (const d of mapState.devices) {
    const [x, y] = project(d.position.lon, d.position.lat);
    const low = d.battery_pct !== null && d.battery_pct < 20;
    const battery = d.battery_pct === null ? t("map.battery_unknown") : t("map.battery", { n: d.battery_pct.toFixed(0) });
    root.append(titled(svg("circle", { cx: x, cy: y, r: 4,
      class: "device " + (d.online ? "on" : "off") + (low ? " low" : "") }),
      t("map.device_title", { id: d.device_id, kind: label("kind", d.kind), state: label("state", d.state), battery })));
  }
  for (const inc of mapState.incidents) {
    if (inc.lat === null || inc.lat === undefined || inc.lon === null || inc.lon === undefined) continue;
    const [x, y] = project(inc.lon, inc.lat);
    const r = inc.severity === "critical" || inc.severity === "high" ? 8 : 6;
    const node = svg("polygon", {
      points: `${x},${y - r} ${x + r},${y} ${x},${y + r} ${x - r},${y}`,
      class: `incident sev-${inc.severity || "informational"}` + (inc.incident_id === mapState.selected ? " selected" : ""),
    });
    node.dataset.incident = inc.incident_id;
    titled(node, t("map.incident_title", { id: inc.incident_id, severity: label("severity", inc.severity),
      category: label("category", inc.category) }));
    node.addEventListener("click", () => mapState.onPick && mapState.onPick(inc.incident_id));
    root.append(node);
  }
  box.replaceChildren(root);
  $("map-title").textContent = t("map.subtitle", { name: district ? districtName(district) : t("filter.all_districts") });
}
