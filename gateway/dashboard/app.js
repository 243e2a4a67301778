// urbanops dashboard: devices, a telemetry chart (vendored uPlot, zoomable) and dead letters.
// No framework and no external assets; all data goes into the page via textContent.
// Labels come from the catalogue through t() and label(); times through i18n.js (city clock).
"use strict";

const TOKEN_KEY = "urbanops.token";
const REFRESH_MS = 15000;
const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, not a download
const $ = (id) => document.getElementById(id);

const ui = { device: null, timer: null, me: null, plot: null };

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  }
  const res = await fetch(url, {
    headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = typeof body.detail === "string" ? body.detail
      : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ")
      : res.statusText;
    if (res.status === 401) signOut(detail);
    throw new ApiError(res.status, detail);
  }
  return body;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(id, err) { $(id).textContent = err ? String(err.message || err) : ""; }

// ---- sign in / out -------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(ui.timer);
  ui.timer = null;
  ui.device = null;
  ui.me = null;
  $("chart-device").textContent = t("chart.choose");
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  $("signout").hidden = true;
  $("whoami").textContent = "";
  $("signin-error").textContent = message || "";
  if (window.stopOps) window.stopOps(); // ops.js: live feed, incidents, tickets
}

async function signIn() {
  try {
    const me = await api("/api/v1/tokens/me");
    ui.me = me;
    $("whoami").textContent = t("header.whoami", { name: me.name, role: label("role", me.role) });
    document.body.dataset.role = me.role;
  } catch (err) {
    if (err.status !== 401) $("signin-error").textContent = err.message;
    return;
  }
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("signout").hidden = false;
  refresh();
  ui.timer = setInterval(refresh, REFRESH_MS);
  if (window.startOps) window.startOps(document.body.dataset.role);
}

// ---- health, devices, dead letters ---------------------------------------------------

async function loadHealth() {
  const badge = $("health");
  try {
    const res = await fetch("/healthz");
    const body = await res.json();
    badge.textContent = label("health", body.status);
    badge.title = Object.entries(body.components)
      .map(([k, v]) => t("health.component", { name: label("component", k), status: label("health", v) })).join(t("list.sep"));
    badge.className = "badge " + (body.status === "ok" ? "ok" : "bad");
  } catch (err) {
    badge.textContent = t("health.unreachable");
    badge.className = "badge bad";
  }
}

async function loadDevices() {
  try {
    const page = await api("/api/v1/devices", {
      district: $("filter-district").value.trim(),
      kind: $("filter-kind").value,
      state: $("filter-state").value,
      limit: 1000,
    });
    const tbody = $("devices").tBodies[0];
    tbody.replaceChildren();
    for (const d of page.items) {
      const tr = el("tr");
      tr.dataset.device = d.device_id;
      if (ui.device === d.device_id) tr.className = "selected";
      tr.append(el("td", d.device_id), el("td", label("kind", d.kind)), el("td", districtName(d.district)));
      const st = el("td");
      st.append(el("span", label("state", d.state), "badge " + (d.online ? "ok" : "bad")));
      tr.append(st);
      tr.append(el("td", d.battery_pct === null ? "–" : t("unit.pct", { n: d.battery_pct.toFixed(0) }), "num"));
      tr.append(agoCell(d.last_seen));
      tr.addEventListener("click", () => selectDevice(d.device_id));
      tbody.append(tr);
    }
    $("device-count").textContent = t(page.next_cursor ? "devices.count_more" : "devices.count", { n: page.items.length });
    showError("devices-error", null);
  } catch (err) {
    showError("devices-error", err);
  }
}

async function loadDeadLetters() {
  try {
    const page = await api("/api/v1/dead-letters", { limit: 20 });
    const tbody = $("dead-letters").tBodies[0];
    tbody.replaceChildren();
    for (const d of page.items) {
      const tr = el("tr");
      tr.append(agoCell(d.received_at), el("td", d.topic, "mono"), el("td", d.reason),
        el("td", d.payload_excerpt.slice(0, 120), "mono"));
      tbody.append(tr);
    }
    if (!page.items.length) {
      const tr = el("tr");
      const td = el("td", t("dead.none"), "muted");
      td.colSpan = 4;
      tr.append(td);
      tbody.append(tr);
    }
    showError("dead-error", null);
  } catch (err) {
    showError("dead-error", err);
  }
}

// ---- telemetry chart -----------------------------------------------------------------

async function selectDevice(deviceId) {
  ui.device = deviceId;
  for (const tr of $("devices").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.device === deviceId);
  }
  $("chart-device").textContent = t("chart.device", { id: deviceId });
  try {
    const detail = await api("/api/v1/devices/" + encodeURIComponent(deviceId));
    const select = $("chart-metric");
    const previous = select.value;
    select.replaceChildren(...detail.metrics.map((m) => { const o = el("option", label("metric", m)); o.value = m; return o; }));
    if (detail.metrics.includes(previous)) select.value = previous;
    await loadChart();
  } catch (err) {
    showError("chart-error", err);
  }
}

async function loadChart() {
  const metric = $("chart-metric").value;
  const box = $("chart");
  if (!ui.device || !metric) {
    box.replaceChildren(el("p", ui.device ? t("chart.no_telemetry") : "", "muted"));
    return;
  }
  const end = new Date();
  const start = new Date(end.getTime() - Number($("chart-range").value) * 3600e3);
  try {
    const data = await api("/api/v1/devices/" + encodeURIComponent(ui.device) + "/telemetry", {
      metric, start: start.toISOString(), end: end.toISOString(), bucket: $("chart-bucket").value,
    });
    drawChart(box, data, start, end);
    showError("chart-error", null);
  } catch (err) {
    showError("chart-error", err);
  }
}

function parseBucket(text) {
  const units = { s: 1, m: 60, h: 3600, d: 86400 };
  return Number(text.slice(0, -1)) * units[text.slice(-1)] * 1000;
}

// uPlot (vendored): the bucket averages as a line over the min–max band, on the city's clock.
// Drag across the chart to zoom in on a time span; double-click to zoom back out. A gap in the
// data (2.5 times the usual spacing) is a gap in the line, not a straight jump.
function drawChart(box, data, start, end) {
  if (ui.plot) { ui.plot.destroy(); ui.plot = null; }
  const items = data.items;
  if (!items.length) {
    box.replaceChildren(el("p", t("chart.no_data", { metric: label("metric", data.metric) }), "muted"));
    return;
  }
  const width = parseBucket(data.bucket);
  // A gap is a hole well beyond the device's usual spacing (a sensor reporting every 10 min in
  // 5-min buckets has a missing bucket between every two readings: that is not a gap).
  const mids = items.map((i) => Date.parse(i.bucket) + width / 2);
  const steps = mids.slice(1).map((m, k) => m - mids[k]).sort((a, b) => a - b);
  const usual = Math.max(width, steps.length ? steps[Math.floor(steps.length / 2)] : width);
  const xs = [], avg = [], lo = [], hi = [];
  let last = null, gaps = 0;
  for (const item of items) {
    const mid = Date.parse(item.bucket) + width / 2;
    if (last !== null && mid - last > usual * 2.5) {
      xs.push((last + width) / 1000); avg.push(null); lo.push(null); hi.push(null); gaps += 1;
    }
    xs.push(mid / 1000); avg.push(item.avg); lo.push(item.min); hi.push(item.max);
    last = mid;
  }
  box.replaceChildren();
  box.setAttribute("aria-label", t("chart.aria", { metric: label("metric", data.metric), device: data.device_id,
    bucket: data.bucket }));
  const report = (u) => { // what the chart shows, for people's tools and the tests
    box.dataset.from = String(Math.round(u.scales.x.min));
    box.dataset.to = String(Math.round(u.scales.x.max));
  };
  const opts = {
    width: Math.max(320, box.clientWidth || 800), height: 260,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), i18n.timeZone),
    scales: { x: { time: true } },
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    series: [
      { label: t("chart.time"), value: (u, v) => (v === null ? "–" : formatDateTime(new Date(v * 1000).toISOString())) },
      { label: t("chart.avg"), stroke: "#1f6feb", width: 2, value: (u, v) => (v === null ? "–" : fmt(v)) },
      { label: t("chart.min"), stroke: "rgba(31, 111, 235, 0.35)", width: 1, value: (u, v) => (v === null ? "–" : fmt(v)) },
      { label: t("chart.max"), stroke: "rgba(31, 111, 235, 0.35)", width: 1, value: (u, v) => (v === null ? "–" : fmt(v)) },
    ],
    bands: [{ series: [3, 2], fill: "rgba(31, 111, 235, 0.12)" }],
    axes: [{ // ticks on the city's clock in the page's language (24 h in Chinese), dates when zoomed out
      values: (u, splits) => splits.map((ts) => formatIn(u.scales.x.max - u.scales.x.min > 2 * 86400 ? "day" : "hm",
        ts * 1000)) }, { values: (u, vals) => vals.map((v) => fmt(v)), size: 60 }],
    hooks: { ready: [report], setScale: [(u, key) => { if (key === "x") report(u); }] },
  };
  ui.plot = new uPlot(opts, [xs, avg, lo, hi], box);
  box.dataset.points = String(items.length);
  box.dataset.gaps = String(gaps);
}

function fmt(v) {
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function refresh() {
  loadHealth();
  loadDevices();
  loadDeadLetters();
  if (ui.device) loadChart();
}

// ---- wiring --------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  await i18nReady;
  $("chart-device").textContent = t("chart.choose");
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    $("signin-error").textContent = "";
    signIn();
  });
  $("signout").addEventListener("click", () => signOut(""));
  $("device-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadDevices(); });
  $("chart-controls").addEventListener("change", loadChart);
  $("refresh").addEventListener("click", refresh);
  loadHealth();
  if (sessionStorage.getItem(TOKEN_KEY)) signIn();
});

// A new language: the labels of the page are swapped by i18n.js; redraw what the scripts wrote.
document.addEventListener("urbanops:language", () => {
  if (ui.me) $("whoami").textContent = t("header.whoami", { name: ui.me.name, role: label("role", ui.me.role) });
  $("chart-device").textContent = ui.device ? t("chart.device", { id: ui.device }) : t("chart.choose");
  if ($("app-view").hidden) loadHealth();
  else refresh();
});
