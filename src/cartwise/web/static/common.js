// Helpers shared by the dashboard's page scripts, exposed as `window.Dashboard`. base.html loads
// this file before the page's own script on every page that has one (deferred scripts run in
// order). Pages only: the storefront tracker (cartwise.js) stays standalone.
(function () {
  "use strict";

  // The one number formatter of the dashboard: every page formats figures through it, so a
  // figure reads the same everywhere (thousands separators, 2 decimals for money). A missing
  // value (null, undefined) shows as "—", never as 0.
  const missing = (v) => v === null || v === undefined || v === "" || Number.isNaN(Number(v));
  const grouped = (v, digits) => Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const formats = {
    number: (v) => (missing(v) ? "—" : Math.round(Number(v)).toLocaleString("en-US")),
    money: (v) => (missing(v) ? "—" : grouped(v, 2)),
    percent: (v) => (missing(v) ? "—" : (Number(v) * 100).toFixed(1) + "%"),
    decimal: (v, digits = 2) => (missing(v) ? "—" : grouped(v, digits)),
    // Cards are narrow: from COMPACT_FROM on a figure is shortened (2,097,258 -> 2.1M); the
    // exact value goes into the card's title (see `figure`).
    compact: (v, kind = "number") => {
      if (missing(v)) return "—";
      if (Math.abs(Number(v)) < COMPACT_FROM || kind === "percent") return formats[kind](v);
      return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(Number(v));
    },
  };
  const COMPACT_FROM = 100000;

  // A card's figure: compact text, the exact value on hover (title) and in data-value.
  function figure(node, value, kind = "number") {
    const text = formats.compact(value, kind);
    const exact = formats[kind](value);
    node.textContent = text;
    node.title = text === exact ? "" : exact;
    node.dataset.value = value === null || value === undefined ? "" : String(value);
    return node;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  const cell = (text, cls) => el("td", text, cls);

  // Rows from `toCells(row, tr, index)`, or one "empty" row spanning the table saying why.
  function fillRows(tbody, rows, toCells, emptyText, span) {
    tbody.replaceChildren();
    if (!rows.length) {
      const tr = el("tr", null, "empty");
      const td = el("td", emptyText);
      td.colSpan = span;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    rows.forEach((r, i) => {
      const tr = el("tr");
      toCells(r, tr, i).forEach((c) => tr.appendChild(c));
      tbody.appendChild(tr);
    });
  }

  // JSON from the API with the session cookie; a non-GET sends the page's CSRF token, an object
  // body goes as JSON. Signed out: back to the sign-in page, which returns here afterwards.
  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.method && opts.method !== "GET") {
      opts.headers["X-CSRF-Token"] = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    }
    if (opts.body && typeof opts.body !== "string") {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.body);
    }
    const response = await fetch(path, opts);
    if (response.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
      throw new Error("signed out");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { const e = new Error(body.message || response.statusText); e.status = response.status; throw e; }
    return body;
  }

  // One look for every chart: transparent background, the page's font; `base` sets the margins
  // (and axes) a page uses for all its charts, `extra` a single chart's own.
  const chartLayout = (base, extra) => Object.assign({
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "system-ui, sans-serif", size: 12, color: "#1d2330" },
  }, base, extra || {});
  const chartConfig = { displayModeBar: false, responsive: true };

  // Text for plotly. Plotly reads tags in labels, legends, ticks and hover text (<a href> becomes
  // a live link, <br> a line break), so every string that comes from the shop's data (names,
  // categories, steps, property values) goes through here before it reaches a chart: `&`, `<`
  // and `>` become entities, which plotly shows as the characters themselves.
  const PLOT_ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
  const plotText = (v) => (v === null || v === undefined ? "" : String(v)).replace(/[&<>]/g, (c) => PLOT_ENTITIES[c]);

  // Clickable rows: a click or Enter on a focused row (rows carry tabindex="0").
  function onRowActivate(table, handler) {
    table.addEventListener("click", handler);
    table.addEventListener("keydown", (e) => { if (e.key === "Enter") handler(e); });
  }

  // Runs `handler` once typing in `input` pauses for `ms` milliseconds, not on every key.
  function afterTyping(input, ms, handler) {
    let timer = null;
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(handler, ms); });
  }

  // A paged list's "1–25 of 340 customers" line and its Previous/Next buttons.
  function showPage(result, shown, noun, countNode, prev, next) {
    const n = formats.number;
    countNode.textContent = result.ready
      ? (shown ? `${n(result.offset + 1)}–${n(result.offset + shown)} of ${n(result.total)} ${noun}` : `0 of ${n(result.total)} ${noun}`)
      : "";
    prev.disabled = result.offset <= 0;
    next.disabled = result.offset + shown >= result.total;
  }

  // Forms that act in place (search bars) never submit: Enter must not reload the page. A listener,
  // not an inline `onsubmit`, because the pages' Content-Security-Policy allows no inline script.
  document.querySelectorAll("form[data-no-submit]").forEach((form) => form.addEventListener("submit", (e) => e.preventDefault()));

  window.Dashboard = { formats, figure, el, cell, fillRows, api, chartLayout, chartConfig, plotText, onRowActivate, afterTyping, showPage };
})();
