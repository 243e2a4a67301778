// urbanops dashboard: live incident feed (SSE), incident detail with evidence, ticket queue and
// the emergency manager's actions. Uses api(), el(), svg(), ago() and $ from app.js.
"use strict";

const CATEGORIES = ["fire", "flood", "road_hazard", "traffic", "sanitation", "air_quality", "noise",
  "infrastructure", "public_safety", "device_fault"];
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];
const AGENCIES = ["fire_rescue", "emergency_management", "urban_management", "transport", "water_affairs",
  "ecology_environment", "public_security", "housing_construction", "device_ops"];
const ops = { role: null, source: null, incidents: new Map(), ticket: null, incident: null, evidenceUrls: [],
  ticketTimer: null, mapTimer: null, incidentTimer: null };

function canAct() { return ops.role === "manager" || ops.role === "admin"; }

function sevBadge(sev) { return el("span", sev || "?", "sev sev-" + (sev || "informational")); }

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

function fillSelect(id, values) {
  const select = $(id);
  if (select.options.length > 1) return;
  for (const v of values) select.append(el("option", v));
}

// ---- live feed -------------------------------------------------------------------------

function connectFeed() {
  // EventSource cannot send headers, so the feed (only it) takes the token in the query.
  // On a dropped connection the browser reconnects by itself and sends Last-Event-ID.
  const src = new EventSource("/api/v1/feed?token=" + encodeURIComponent(sessionStorage.getItem(TOKEN_KEY)));
  ops.source = src;
  src.onopen = () => { $("feed-status").textContent = "live"; $("feed-status").className = "badge live"; };
  src.onerror = () => { $("feed-status").textContent = "reconnecting"; $("feed-status").className = "badge bad"; };
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
    const when = el("td", ago(inc.updated_at));
    when.title = inc.updated_at;
    tr.append(sev, el("td", inc.category || "?"), el("td", inc.district || "?"),
      el("td", inc.ticket_id ? (inc.ticket_status || "open") : "triaging…"), when);
    tr.addEventListener("click", () => openIncident(inc.incident_id));
    tbody.append(tr);
  }
  if (!shown.length) {
    const td = el("td", "no incidents match", "muted");
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
    for (const [k, v] of [["severity", inc.severity], ["category", inc.category], ["district", inc.district],
      ["status", inc.status], ["opened", inc.opened_at], ["places", inc.place_tags.join(", ") || "–"],
      ["observations", inc.observation_count]]) {
      meta.append(el("dt", k), el("dd", v ?? "–"));
    }
    const btn = $("incident-open-ticket");
    btn.hidden = !inc.ticket_id;
    btn.onclick = () => openTicket(inc.ticket_id);
    const tbody = $("observations").tBodies[0];
    tbody.replaceChildren();
    for (const o of inc.observations) {
      const what = [o.label, o.metric && `${o.metric}=${o.value}`, o.confidence && `(${(o.confidence * 100).toFixed(0)} %)`,
        o.text].filter(Boolean).join(" ");
      const tr = el("tr");
      tr.append(el("td", new Date(o.ts).toLocaleTimeString()), el("td", o.source),
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
    if (!res.ok) { box.append(el("p", "evidence image unavailable", "muted")); continue; }
    const url = URL.createObjectURL(await res.blob());
    ops.evidenceUrls.push(url);
    const img = el("img");
    img.src = url;
    img.alt = `redacted evidence from ${o.device_id || o.source}`;
    box.append(img);
  }
}

// ---- tickets ---------------------------------------------------------------------------

async function loadTickets() {
  try {
    const page = await api("/api/v1/tickets", { status: $("ticket-status").value, limit: 200 });
    const tbody = $("tickets").tBodies[0];
    tbody.replaceChildren();
    for (const t of page.items) {
      const tr = el("tr", null, t.overdue ? "overdue" : "");
      tr.dataset.ticket = t.ticket_id;
      if (t.ticket_id === ops.ticket) tr.classList.add("selected");
      const sev = el("td");
      sev.append(sevBadge(t.severity));
      const sla = el("td", t.sla_due ? (t.overdue ? "OVERDUE " : "") + new Date(t.sla_due).toLocaleTimeString() : "–", "sla");
      sla.title = t.sla_due || "";
      tr.append(sev, el("td", t.category), el("td", t.agency), el("td", t.district || "?"), el("td", t.status), sla,
        el("td", t.summary || ""));
      tr.addEventListener("click", () => openTicket(t.ticket_id));
      tbody.append(tr);
    }
    showError("tickets-error", null);
  } catch (err) {
    showError("tickets-error", err);
  }
}

async function openTicket(id) {
  ops.ticket = id;
  try {
    renderTicket(await api("/api/v1/tickets/" + encodeURIComponent(id)));
    showError("ticket-error", null);
  } catch (err) {
    showError("ticket-error", err);
  }
}

function renderTicket(t) {
  $("ticket-detail").hidden = false;
  $("ticket-title").textContent = t.ticket_id;
  $("ticket-status-badge").textContent = t.status + (t.overdue ? " · overdue" : "");
  $("ticket-status-badge").className = "badge " + (t.overdue ? "bad" : t.status === "resolved" ? "ok" : "");
  $("ticket-summary").textContent = t.summary || "";
  $("ticket-cap").onclick = (ev) => { ev.preventDefault(); downloadCap(t.ticket_id); };
  const meta = $("ticket-meta");
  meta.replaceChildren();
  const overridden = (k) => (k in t.overrides ? " (set by a person)" : "");
  for (const [k, v] of [["severity", t.severity + overridden("severity")], ["category", t.category + overridden("category")],
    ["agency", t.agency + overridden("agency")], ["SLA due", t.sla_due], ["assigned to", t.assigned_to],
    ["acknowledged", t.acknowledged_by && `${t.acknowledged_by} at ${t.acknowledged_at}`],
    ["resolved", t.resolved_by && `${t.resolved_by} at ${t.resolved_at}`], ["incident", t.incident_id],
    ["actions", (t.body.actions || []).join(" · ")]]) {
    meta.append(el("dt", k), el("dd", v || "–"));
  }
  renderActions(t);
  const hist = $("ticket-history");
  hist.replaceChildren();
  for (const h of t.history) {
    const d = h.details || {};
    const extra = [d.assignee && "→ " + d.assignee, d.note, d.changes && JSON.stringify(d.changes), d.reason && "because: " + d.reason]
      .filter(Boolean).join(" ");
    hist.append(el("li", `${new Date(h.ts).toLocaleString()} — ${h.actor}: ${h.action} ${extra}`));
  }
}

// Operators get no action controls at all (the API would refuse them with 403 anyway).
function renderActions(t) {
  const box = $("ticket-actions");
  box.replaceChildren();
  if (!canAct()) return;
  const text = el("input");
  text.id = "action-text";
  text.placeholder = "assignee or note";
  const allowed = { ack: ["open"], assign: ["open", "acknowledged", "assigned"], note: null,
    resolve: ["open", "acknowledged", "assigned"], reopen: ["resolved"] };
  box.append(text);
  for (const [action, from] of Object.entries(allowed)) {
    const b = el("button", action === "ack" ? "Acknowledge" : action[0].toUpperCase() + action.slice(1));
    b.type = "button";
    b.dataset.action = action;
    b.disabled = from !== null && !from.includes(t.status);
    b.addEventListener("click", () => act(t.ticket_id, action, text.value.trim()));
    box.append(b);
  }
  box.append(el("span", null, "sep"));
  const pick = (name, values, current) => {
    const s = el("select");
    s.id = "override-" + name;
    s.append(el("option", `${name}: keep`));
    s.options[0].value = "";
    for (const v of values) { const o = el("option", v); if (v === current) o.textContent = v + " (now)"; o.value = v; s.append(o); }
    return s;
  };
  const reason = el("input");
  reason.id = "override-reason";
  reason.placeholder = "reason for the override";
  const ob = el("button", "Override");
  ob.type = "button";
  ob.dataset.action = "override";
  box.append(pick("severity", SEVERITIES, t.severity), pick("category", CATEGORIES, t.category),
    pick("agency", AGENCIES, t.agency), reason, ob);
  ob.addEventListener("click", () => {
    const body = { reason: reason.value.trim() };
    for (const k of ["severity", "category", "agency"]) if ($("override-" + k).value) body[k] = $("override-" + k).value;
    act(t.ticket_id, "override", null, body);
  });
}

async function act(id, action, text, body) {
  const payload = body || (action === "assign" ? { assignee: text } : text ? { note: text } : {});
  try {
    const out = await apiSend(`/api/v1/tickets/${encodeURIComponent(id)}/${action}`, payload);
    renderTicket(out.ticket || out);
    showError("ticket-error", null);
    scheduleTickets();
  } catch (err) {
    showError("ticket-error", err);
  }
}

async function downloadCap(id) {
  const res = await fetch(`/api/v1/tickets/${encodeURIComponent(id)}/cap`, {
    headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) } });
  const url = URL.createObjectURL(await res.blob());
  window.open(url, "_blank");
}

// ---- start / stop (called by app.js on sign-in and sign-out) ---------------------------

window.startOps = async (role) => {
  ops.role = role;
  fillSelect("inc-category", CATEGORIES);
  fillSelect("inc-severity", SEVERITIES);
  try { await loadMapLayers(); } catch (err) { showError("incidents-error", err); }
  fillSelect("inc-district", (mapState.layers ? mapState.layers.features : [])
    .filter((f) => f.properties.kind === "district").map((f) => f.id));
  await loadMapDevices();
  connectFeed();
  await Promise.all([loadIncidents(), loadTickets()]);
};

window.stopOps = () => {
  if (ops.source) ops.source.close();
  ops.source = null;
  ops.role = null;
  ops.ticket = ops.incident = null;
  $("ticket-detail").hidden = true;
  $("incident-detail").hidden = true;
};

document.addEventListener("DOMContentLoaded", () => {
  $("incident-filters").addEventListener("change", renderIncidents);
  $("ticket-filters").addEventListener("change", loadTickets);
});
