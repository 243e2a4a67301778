// urbanops dashboard: devices, a telemetry chart (plain SVG) and dead letters.
// No framework and no external assets; all data goes into the page via textContent.
// Labels come from the catalogue through t() and label(); times through i18n.js (city clock).
"use strict";

const TOKEN_KEY = "urbanops.token";
const REFRESH_MS = 15000;
const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, not a download
const $ = (id) => document.getElementById(id);

const ui = { device: null, timer: null, me: null };

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

function drawChart(box, data, start, end) {
  const W = 800, H = 260, L = 56, R = 12, T = 12, B = 28;
  const items = data.items;
  if (!items.length) {
    box.replaceChildren(el("p", t("chart.no_data", { metric: label("metric", data.metric) }), "muted"));
    return;
  }
  let lo = Math.min(...items.map((i) => i.min));
  let hi = Math.max(...items.map((i) => i.max));
  if (hi === lo) { hi += 1; lo -= 1; }
  const t0 = start.getTime(), t1 = end.getTime();
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": t("chart.aria", { metric: label("metric", data.metric), device: data.device_id, bucket: data.bucket }) });

  for (let k = 0; k <= 4; k++) { // y grid and labels
    const v = lo + ((hi - lo) * k) / 4;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  for (let k = 0; k <= 5; k++) { // x labels
    const at = t0 + ((t1 - t0) * k) / 5;
    const tick = formatIn((t1 - t0) > 2 * 86400e3 ? "day" : "hm", at); // on the city's clock
    root.append(svg("text", { x: x(at), y: H - 8, "text-anchor": "middle" }, tick));
  }

  // Split into runs of adjacent buckets so gaps in the data show as gaps in the line.
  const width = parseBucket(data.bucket);
  const runs = [];
  for (const item of items) {
    const mid = Date.parse(item.bucket) + width / 2;
    const last = runs[runs.length - 1];
    if (last && mid - last[last.length - 1].mid <= width * 1.5) last.push({ mid, ...item });
    else runs.push([{ mid, ...item }]);
  }
  for (const run of runs) {
    const upper = run.map((p) => `${x(p.mid)},${y(p.max)}`);
    const lower = run.slice().reverse().map((p) => `${x(p.mid)},${y(p.min)}`);
    root.append(svg("polygon", { points: upper.concat(lower).join(" "), class: "band" }));
    root.append(svg("polyline", { points: run.map((p) => `${x(p.mid)},${y(p.avg)}`).join(" "),
      class: "line" }));
    for (const p of run) {
      const dot = svg("circle", { cx: x(p.mid), cy: y(p.avg), r: run.length > 60 ? 1.5 : 3,
        class: "dot" });
      dot.append(svg("title", {}, t("chart.point", { time: formatDateTime(p.bucket), avg: fmt(p.avg),
        min: fmt(p.min), max: fmt(p.max), n: p.count })));
      root.append(dot);
    }
  }
  box.replaceChildren(root);
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
