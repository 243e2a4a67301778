// urbanops dashboard: live incident feed (SSE), incident detail with evidence; the ticket queue
// and actions are in tickets.js. Uses api(), el(), svg() and $ from app.js; t(), label(), ago()
// and the city-clock formatters from i18n.js.
"use strict";

const CATEGORIES = ["fire", "flood", "road_hazard", "traffic", "sanitation", "air_quality", "noise",
  "infrastructure", "public_safety", "device_fault"];
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];
const AGENCIES = ["fire_rescue", "emergency_management", "urban_management", "transport", "water_affairs",
  "ecology_environment", "public_security", "housing_construction", "device_ops"];
const ops = { role: null, source: null, incidents: new Map(), ticket: null, incident: null, evidenceUrls: [],
  ticketTimer: null, mapTimer: null, incidentTimer: null, ticketDoc: null, feed: "offline" };

function canAct() { return ops.role === "manager" || ops.role === "admin"; }

function sevBadge(sev) { return el("span", label("severity", sev), "sev sev-" + (sev || "informational")); }

async function apiSend(path, body) {
  const res = await fetch(path, { method: "POST", body: JSON.stringify(body || {}), headers: {
    Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY), "Content-Type": "application/json" } });
  const out = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = typeof out.detail === "string" ? out.detail
      : Array.isArray(out.detail) ? out.detail.map((d) => d.msg).join("; ") : res.statusText;
    throw new ApiError(res.status, detail);
  }
  return out;
}

// The first option ("all ...") stays; the others are the values, named in the current language.
function fillSelect(id, values, name) {
  const select = $(id);
  const current = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const v of values) { const o = el("option", name(v)); o.value = v; select.append(o); }
  if (values.includes(current)) select.value = current;
}

function fillFilters() {
  fillSelect("inc-category", CATEGORIES, (v) => label("category", v));
  fillSelect("inc-severity", SEVERITIES, (v) => label("severity", v));
  fillSelect("inc-district", (mapState.layers ? mapState.layers.features : [])
    .filter((f) => f.properties.kind === "district").map((f) => f.id), districtName);
}

function showFeedStatus(state) {
  ops.feed = state;
  $("feed-status").textContent = t("feed." + state);
  $("feed-status").className = "badge " + (state === "live" ? "live" : state === "offline" ? "" : "bad");
}

// ---- live feed -------------------------------------------------------------------------

function connectFeed() {
  // EventSource cannot send headers, so the feed (only it) takes the token in the query.
  // On a dropped connection the browser reconnects by itself and sends Last-Event-ID.
  const src = new EventSource("/api/v1/feed?token=" + encodeURIComponent(sessionStorage.getItem(TOKEN_KEY)));
  ops.source = src;
  src.onopen = () => showFeedStatus("live");
  src.onerror = () => showFeedStatus("reconnecting");
  src.addEventListener("incident", (ev) => onIncidentEvent(JSON.parse(ev.data)));
  src.addEventListener("ticket", (ev) => onTicketEvent(JSON.parse(ev.data)));
  src.addEventListener("device", () => scheduleMap());
  src.addEventListener("reset", () => { loadIncidents(); loadTickets(); });
}

function onIncidentEvent(ev) {
  const prev = ops.incidents.get(ev.id) || {};
  const d = ev.data || {};
  ops.incidents.set(ev.id, { ...prev, incident_id: ev.id, district: d.district ?? prev.district,
    category: d.category ?? prev.category, severity: d.severity ?? prev.severity,
    status: d.status ?? prev.status ?? "open", lat: d.lat ?? prev.lat, lon: d.lon ?? prev.lon,
    ticket_id: d.ticket_id ?? prev.ticket_id ?? null, updated_at: ev.ts, fresh: true });
  renderIncidents();
  if (ops.incident === ev.id) openIncident(ev.id);
}

function onTicketEvent(ev) {
  const d = ev.data || {};
  if (d.incident_id && ops.incidents.has(d.incident_id)) {
    const inc = ops.incidents.get(d.incident_id);
    inc.ticket_id = ev.id;
    inc.ticket_status = d.status;
    renderIncidents();
  } else {
    clearTimeout(ops.incidentTimer); // the event does not say which incident: reload the list
    ops.incidentTimer = setTimeout(loadIncidents, 300);
  }
  scheduleTickets();
  if (ops.ticket === ev.id) openTicket(ev.id);
}

function scheduleTickets() { // several changes in a burst cost one reload
  clearTimeout(ops.ticketTimer);
  ops.ticketTimer = setTimeout(loadTickets, 150);
}

function scheduleMap() {
  clearTimeout(ops.mapTimer);
  ops.mapTimer = setTimeout(async () => { await loadMapDevices(); drawMap(); }, 500);
}

// ---- incidents -------------------------------------------------------------------------

async function loadIncidents() {
  try {
    const page = await api("/api/v1/incidents", { limit: 200 });
    ops.incidents = new Map(page.items.map((i) => [i.incident_id, i]));
    renderIncidents();
    showError("incidents-error", null);
  } catch (err) {
    showError("incidents-error", err);
  }
}

function renderIncidents() {
  const f = { district: $("inc-district").value, category: $("inc-category").value, severity: $("inc-severity").value };
  const shown = [...ops.incidents.values()]
    .filter((i) => Object.entries(f).every(([k, v]) => !v || i[k] === v))
    .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
  const tbody = $("incidents").tBodies[0];
  tbody.replaceChildren();
  for (const inc of shown) {
    const tr = el("tr");
    tr.dataset.incident = inc.incident_id;
    if (inc.fresh) { tr.classList.add("fresh"); inc.fresh = false; }
    if (inc.incident_id === ops.incident) tr.classList.add("selected");
    const sev = el("td");
    sev.append(sevBadge(inc.severity));
    tr.append(sev, el("td", label("category", inc.category)), el("td", districtName(inc.district)),
      el("td", inc.ticket_id ? label("ticket_status", inc.ticket_status || "open") : t("incidents.triaging")),
      agoCell(inc.updated_at));
    tr.addEventListener("click", () => openIncident(inc.incident_id));
    tbody.append(tr);
  }
  if (!shown.length) {
    const td = el("td", t("incidents.none"), "muted");
    td.colSpan = 5;
    const tr = el("tr");
    tr.append(td);
    tbody.append(tr);
  }
  mapState.incidents = shown;
  mapState.selected = ops.incident;
  drawMap();
}

async function openIncident(id) {
  ops.incident = id;
  try {
    const inc = await api("/api/v1/incidents/" + encodeURIComponent(id));
    $("incident-detail").hidden = false;
    $("incident-title").textContent = inc.incident_id;
    const meta = $("incident-meta");
    meta.replaceChildren();
    for (const [k, v] of [["severity", label("severity", inc.severity)], ["category", label("category", inc.category)],
      ["district", districtName(inc.district)], ["address", incidentPlace(inc)],
      ["status", label("incident_status", inc.status)],
      ["opened", formatDateTime(inc.opened_at)],
      ["places", inc.place_tags.map((p) => label("place", p)).join(t("list.sep")) || "–"],
      ["observations", inc.observation_count]]) {
      meta.append(el("dt", t("field." + k)), el("dd", v ?? "–"));
    }
    const btn = $("incident-open-ticket");
    btn.hidden = !inc.ticket_id;
    btn.onclick = () => openTicket(inc.ticket_id);
    const tbody = $("observations").tBodies[0];
    tbody.replaceChildren();
    for (const o of inc.observations) {
      const what = [o.label && label("obs", o.label), o.metric && `${label("metric", o.metric)} = ${o.value}`,
        o.confidence && t("incident.confidence", { pct: (o.confidence * 100).toFixed(0) }), o.text].filter(Boolean).join(" ");
      const tr = el("tr");
      const when = el("td", formatTime(o.ts));
      when.title = formatDateTime(o.ts);
      tr.append(when, el("td", label("source", o.source)),
        el("td", o.device_id || "–"), el("td", what));
      tbody.append(tr);
    }
    await showEvidence(inc.observations.filter((o) => o.evidence_url));
    renderIncidents();
  } catch (err) {
    showError("incidents-error", err);
  }
}

// The image needs the bearer token, which an <img src> cannot send: fetch it, show a blob URL.
async function showEvidence(observations) {
  for (const url of ops.evidenceUrls) URL.revokeObjectURL(url);
  ops.evidenceUrls = [];
  const box = $("evidence");
  box.replaceChildren();
  for (const o of observations.slice(-3)) {
    const res = await fetch(o.evidence_url, { headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) } });
    if (!res.ok) { box.append(el("p", t("incident.evidence_unavailable"), "muted")); continue; }
    const url = URL.createObjectURL(await res.blob());
    ops.evidenceUrls.push(url);
    const img = el("img");
    img.src = url;
    img.alt = t("incident.evidence_alt", { source: o.device_id || label("source", o.source) });
    box.append(img);
  }
}

// ---- start / stop (called by app.js on sign-in and sign-out) ---------------------------

window.startOps = async (role) => {
  ops.role = role;
  mapState.onPick = openIncident; // a click on the map opens the incident too
  showFeedStatus("offline");
  try { await loadMapLayers(); } catch (err) { showError("incidents-error", err); }
  fillFilters();
  await loadMapDevices();
  connectFeed();
  await Promise.all([loadIncidents(), loadTickets()]);
};

window.stopOps = () => {
  if (ops.source) ops.source.close();
  ops.source = null;
  ops.role = null;
  ops.ticket = ops.incident = ops.ticketDoc = null;
  showFeedStatus("offline");
  $("ticket-detail").hidden = true;
  $("incident-detail").hidden = true;
};

document.addEventListener("DOMContentLoaded", () => {
  $("incident-filters").addEventListener("change", renderIncidents);
});

// A new language: redraw everything ops.js wrote, from what it already has (no refetch but the queue).
document.addEventListener("urbanops:language", () => {
  if (!ops.role) return;
  showFeedStatus(ops.feed || "offline");
  fillFilters();
  renderIncidents();
  loadTickets();
  if (ops.incident) openIncident(ops.incident);
  if (ops.ticketDoc) renderTicket(ops.ticketDoc);
});
