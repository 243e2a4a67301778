// urbanops dashboard: languages and the city's clock. Loaded before app.js, map.js and ops.js.
// Every label lives in a catalogue, /dashboard/i18n.<tag>.json (same keys in each); the page
// marks static text with data-i18n (textContent), data-i18n-placeholder, data-i18n-title and
// data-i18n-aria-label, and the scripts call t(key, vars) and label(set, value).
// To add a language: copy i18n.en.json to i18n.<tag>.json, translate it, add a line below.
"use strict";

const LANGUAGES = { "zh-CN": "中文", en: "EN" }; // tag -> the language's own name, for the switch
const DEFAULT_LANGUAGE = "en";
const LANG_KEY = "urbanops.lang";
const I18N_ATTRS = ["placeholder", "title", "aria-label"];

const i18n = { lang: DEFAULT_LANGUAGE, messages: {}, timeZone: "Asia/Shanghai", formats: new Map() };

// A choice made with the switch wins; else the browser's first language we have (zh* -> zh-CN).
function pickLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved && saved in LANGUAGES) return saved;
  for (const pref of navigator.languages || [navigator.language || ""]) {
    const primary = String(pref).toLowerCase().split("-")[0];
    const tag = Object.keys(LANGUAGES).find((l) => l.toLowerCase().split("-")[0] === primary);
    if (tag) return tag;
  }
  return DEFAULT_LANGUAGE;
}

// The message for key, with {name} replaced from vars; a missing key shows as itself.
function t(key, vars) {
  const msg = Object.prototype.hasOwnProperty.call(i18n.messages, key) ? i18n.messages[key] : key;
  return vars ? msg.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : msg;
}

// The name of a value of a closed set (severity, category, agency, status ...): the catalogue's
// "set.value"; a value the catalogue does not know (new on the server) shows as sent.
function label(set, value) {
  if (value === null || value === undefined || value === "") return "?";
  const key = set + "." + value;
  return Object.prototype.hasOwnProperty.call(i18n.messages, key) ? i18n.messages[key] : String(value);
}

function applyI18n(root) {
  const scope = root || document;
  for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const attr of I18N_ATTRS) {
    for (const node of scope.querySelectorAll(`[data-i18n-${attr}]`)) {
      node.setAttribute(attr, t(node.getAttribute(`data-i18n-${attr}`)));
    }
  }
  if (!root) {
    document.documentElement.lang = i18n.lang;
    document.documentElement.dataset.i18nReady = i18n.lang; // the page shows (app.css); tests wait on it
    document.title = t("page.title");
    renderLanguageSwitch();
    const tz = document.getElementById("city-tz");
    if (tz) {
      tz.textContent = t("header.timezone", { tz: i18n.timeZone });
      tz.title = t("header.timezone_title", { now: formatDateTime(new Date()) });
    }
  }
}

function renderLanguageSwitch() {
  const box = document.getElementById("lang-switch");
  if (!box) return;
  box.replaceChildren();
  for (const [tag, name] of Object.entries(LANGUAGES)) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name;
    b.lang = tag;
    b.dataset.lang = tag;
    b.setAttribute("aria-pressed", String(tag === i18n.lang));
    b.addEventListener("click", () => setLanguage(tag));
    box.append(b);
  }
}

async function loadCatalogue(tag) {
  const res = await fetch(`/dashboard/i18n.${tag}.json`);
  if (!res.ok) throw new Error(`no catalogue for ${tag}: ${res.status}`);
  i18n.messages = await res.json();
  i18n.lang = tag;
  i18n.formats.clear();
}

// The city's time zone comes with the dashboard (public, like the page; no data in it).
async function loadConfig() {
  try {
    const res = await fetch("/dashboard/config.json");
    const cfg = await res.json();
    if (typeof cfg.city_timezone === "string") i18n.timeZone = cfg.city_timezone;
    if (typeof cfg.basemap === "string") i18n.basemap = cfg.basemap; // the city's PMTiles base map, if any
    i18n.formats.clear();
  } catch (err) {
    console.warn("dashboard config unavailable, times in", i18n.timeZone, err);
  }
}

async function setLanguage(tag) {
  localStorage.setItem(LANG_KEY, tag);
  await loadCatalogue(tag);
  applyI18n();
  document.dispatchEvent(new CustomEvent("urbanops:language", { detail: tag }));
}

// ---- times, always on the city's clock, in the chosen language ------------------------

const TIME_STYLES = {
  time: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
  datetime: { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" },
  hm: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
  day: { month: "short", day: "numeric" },
};

function formatIn(style, when) {
  if (when === null || when === undefined || when === "") return "–";
  const date = when instanceof Date ? when : new Date(typeof when === "number" ? when : Date.parse(when));
  if (Number.isNaN(date.getTime())) return String(when);
  if (!i18n.formats.has(style)) {
    i18n.formats.set(style, new Intl.DateTimeFormat(i18n.lang, { ...TIME_STYLES[style], timeZone: i18n.timeZone }));
  }
  const format = i18n.formats.get(style);
  if (style !== "datetime") return format.format(date);
  // Dates as 2026-11-28 18:04:18 in every language: 11/28 or 28/11 is a guess for the reader.
  const p = Object.fromEntries(format.formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

const formatTime = (when) => formatIn("time", when);
const formatDateTime = (when) => formatIn("datetime", when);

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)); // clock skew
  if (s < 60) return t("ago.s", { n: s });
  if (s < 3600) return t("ago.min", { n: Math.round(s / 60) });
  if (s < 86400) return t("ago.h", { n: Math.round(s / 3600) });
  return t("ago.d", { n: Math.round(s / 86400) });
}

// A time cell: how long ago, with the full city time on hover.
function agoCell(iso) {
  const td = document.createElement("td");
  td.textContent = ago(iso);
  td.title = formatDateTime(iso);
  return td;
}

// Resolved once the catalogue and the clock are in; the page shows after that (app.css).
const i18nReady = (async () => {
  try {
    await Promise.all([loadCatalogue(pickLanguage()), loadConfig()]);
  } catch (err) {
    console.error(err);
    try { await loadCatalogue(DEFAULT_LANGUAGE); } catch (again) { console.error(again); }
  }
  applyI18n();
})();
