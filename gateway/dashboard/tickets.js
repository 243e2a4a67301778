// urbanops dashboard: the ticket queue, a ticket's detail and history, and the emergency
// manager's actions (acknowledge, assign, note, resolve, reopen, override). Uses ops, sevBadge()
// and apiSend() from ops.js, api(), el() and $ from app.js, t() and label() from i18n.js.
"use strict";

async function loadTickets() {
  try {
    const page = await api("/api/v1/tickets", { status: $("ticket-status").value, limit: 200 });
    const tbody = $("tickets").tBodies[0];
    tbody.replaceChildren();
    for (const tk of page.items) {
      const tr = el("tr", null, tk.overdue ? "overdue" : "");
      tr.dataset.ticket = tk.ticket_id;
      if (tk.ticket_id === ops.ticket) tr.classList.add("selected");
      const sev = el("td");
      sev.append(sevBadge(tk.severity));
      const due = tk.sla_due ? formatTime(tk.sla_due) : "–";
      const sla = el("td", tk.overdue ? t("tickets.overdue_at", { time: due }) : due, "sla");
      sla.title = tk.sla_due ? formatDateTime(tk.sla_due) : "";
      tr.append(sev, el("td", label("category", tk.category)), el("td", label("agency", tk.agency)),
        el("td", districtName(tk.district)), el("td", label("ticket_status", tk.status)), sla, el("td", tk.summary || ""));
      tr.addEventListener("click", () => openTicket(tk.ticket_id));
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

// An override's changes, e.g. "severity: high → critical", in the current language.
function changesText(changes) {
  return Object.entries(changes).map(([k, v]) => {
    const [from, to] = Array.isArray(v) ? v : [null, v]; // the store records [old, new]
    return t("history.change", { field: t("field." + k), from: from ? label(k, from) : "–", to: label(k, to) });
  }).join(t("list.sep"));
}

function renderTicket(tk) {
  ops.ticketDoc = tk;
  $("ticket-detail").hidden = false;
  $("ticket-title").textContent = tk.ticket_id;
  $("ticket-status-badge").textContent = label("ticket_status", tk.status) + (tk.overdue ? t("ticket.overdue_suffix") : "");
  $("ticket-status-badge").className = "badge " + (tk.overdue ? "bad" : tk.status === "resolved" ? "ok" : "");
  $("ticket-summary").textContent = tk.summary || "";
  $("ticket-cap").onclick = (ev) => { ev.preventDefault(); downloadCap(tk.ticket_id); };
  const meta = $("ticket-meta");
  meta.replaceChildren();
  const named = (k) => label(k, tk[k]) + (k in tk.overrides ? t("ticket.overridden") : "");
  const byAt = (who, at) => who && t("ticket.by_at", { who, at: formatDateTime(at) });
  for (const [k, v] of [["severity", named("severity")], ["category", named("category")], ["agency", named("agency")],
    ["district", districtName(tk.district)], ["sla_due", tk.sla_due && formatDateTime(tk.sla_due)],
    ["assigned_to", tk.assigned_to], ["acknowledged", byAt(tk.acknowledged_by, tk.acknowledged_at)],
    ["resolved", byAt(tk.resolved_by, tk.resolved_at)], ["incident", tk.incident_id],
    ["actions", (tk.body.actions || []).join(" · ")]]) {
    meta.append(el("dt", t("field." + k)), el("dd", v || "–"));
  }
  renderCitations(tk);
  renderActions(tk);
  const hist = $("ticket-history");
  hist.replaceChildren();
  for (const h of tk.history) {
    const d = h.details || {};
    const extra = h.action === "remind" ? remindText(d) : [d.assignee && "→ " + d.assignee, d.note,
      d.changes && changesText(d.changes), d.reason && t("history.because", { reason: d.reason })].filter(Boolean).join(" ");
    const li = el("li", t("history.entry", { time: formatDateTime(h.ts), actor: h.actor,
      action: label("action", h.action), extra }).trim());
    li.dataset.action = h.action;
    hist.append(li);
  }
}

// An escalation-ladder reminder: its level, how late, and who was told (agencies by name).
function remindText(d) {
  const who = (d.notify || []).map((n) => (n === "duty_office" ? t("history.duty_office") : label("agency", n)));
  return t("history.remind", { step: d.step, after: d.after, who: who.join(t("list.sep")) });
}

// The plan sections the ticket's actions follow; a click opens the section, in the page's language
// (zh and en versions of a plan number the same sections).
function renderCitations(tk) {
  const list = $("ticket-plans");
  list.replaceChildren();
  const cites = tk.body.citations || [];
  if (!cites.length) list.append(el("li", t("ticket.no_plans"), "muted"));
  for (const c of cites) {
    const a = el("a", t("ticket.plan_ref", { title: c.title, section: c.section, heading: c.heading }));
    a.href = "#plan-" + c.plan + "-" + c.section;
    a.dataset.plan = c.plan;
    a.dataset.section = c.section;
    a.onclick = (ev) => { ev.preventDefault(); openPlan(c.plan, c.section); };
    const li = el("li");
    li.append(a);
    list.append(li);
  }
  if ($("plan-view").dataset.ticket !== tk.ticket_id) $("plan-view").hidden = true;
}

async function openPlan(planId, section) {
  const view = $("plan-view");
  try {
    const plan = await api("/api/v1/city/plans/" + encodeURIComponent(planId),
      { lang: i18n.lang.startsWith("zh") ? "zh" : "en" });
    $("plan-title").textContent = plan.title;
    const box = $("plan-sections");
    box.replaceChildren();
    let cited = null;
    for (const s of plan.sections) {
      const sec = el("section", null, s.number === Number(section) ? "cited" : "");
      sec.id = "plan-section-" + s.number;
      sec.append(el("h5", s.number + ". " + s.heading), el("p", s.text));
      if (s.number === Number(section)) cited = sec;
      box.append(sec);
    }
    view.dataset.ticket = ops.ticket;
    view.hidden = false;
    if (cited) cited.scrollIntoView({ block: "nearest" });
    showError("ticket-error", null);
  } catch (err) {
    showError("ticket-error", err);
  }
}

// Operators get no action controls at all (the API would refuse them with 403 anyway).
function renderActions(tk) {
  const box = $("ticket-actions");
  // A live update re-renders the ticket: what the manager was typing or picking stays.
  const kept = box.dataset.ticket === tk.ticket_id
    ? [...box.querySelectorAll("input, select")].map((n) => [n.id, n.value]) : [];
  const focused = box.contains(document.activeElement) ? document.activeElement.id : null;
  box.dataset.ticket = tk.ticket_id;
  box.replaceChildren();
  if (!canAct()) return;
  const text = el("input");
  text.id = "action-text";
  text.placeholder = t("actions.text_placeholder");
  const allowed = { ack: ["open"], assign: ["open", "acknowledged", "assigned"], note: null,
    resolve: ["open", "acknowledged", "assigned"], reopen: ["resolved"] };
  box.append(text);
  for (const [action, from] of Object.entries(allowed)) {
    const b = el("button", t("actions." + action));
    b.type = "button";
    b.dataset.action = action;
    b.disabled = from !== null && !from.includes(tk.status);
    b.addEventListener("click", () => act(tk.ticket_id, action, text.value.trim()));
    box.append(b);
  }
  box.append(el("span", null, "sep"));
  const pick = (name, values, current) => {
    const s = el("select");
    s.id = "override-" + name;
    s.setAttribute("aria-label", t("field." + name));
    s.append(el("option", t("actions.keep", { field: t("field." + name) })));
    s.options[0].value = "";
    for (const v of values) {
      const o = el("option", v === current ? t("actions.now", { value: label(name, v) }) : label(name, v));
      o.value = v;
      s.append(o);
    }
    return s;
  };
  const reason = el("input");
  reason.id = "override-reason";
  reason.placeholder = t("actions.reason_placeholder");
  const ob = el("button", t("actions.override"));
  ob.type = "button";
  ob.dataset.action = "override";
  box.append(pick("severity", SEVERITIES, tk.severity), pick("category", CATEGORIES, tk.category),
    pick("agency", AGENCIES, tk.agency), reason, ob);
  ob.addEventListener("click", () => {
    const body = { reason: reason.value.trim() };
    for (const k of ["severity", "category", "agency"]) if ($("override-" + k).value) body[k] = $("override-" + k).value;
    act(tk.ticket_id, "override", null, body);
  });
  for (const [id, value] of kept) if ($(id)) $(id).value = value;
  if (focused && $(focused)) $(focused).focus();
}

async function act(id, action, text, body) {
  const payload = body || (action === "assign" ? { assignee: text } : text ? { note: text } : {});
  try {
    const out = await apiSend(`/api/v1/tickets/${encodeURIComponent(id)}/${action}`, payload);
    $("ticket-actions").dataset.ticket = ""; // done: the fields start empty again
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

document.addEventListener("DOMContentLoaded", () => {
  $("ticket-filters").addEventListener("change", loadTickets);
});
