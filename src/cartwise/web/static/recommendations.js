// Recommendations page: offline metrics chart, online figures refreshed from the page's JSON twin
// (/api/v1/pages/recommendations), the try-it panel over the recommendations API, and retraining.
(function () {
  "use strict";
  const initial = JSON.parse(document.getElementById("page-data").textContent);
  const { formats, figure, el, fillRows, chartLayout, chartConfig, plotText } = window.Dashboard;

  // Unlike the shared cell, a missing value shows as a dash.
  const cell = (text, cls) => el("td", text == null ? "—" : String(text), cls);

  // Each row with an item names it in data-item-id.
  function fill(id, rows, toCells, emptyText, span) {
    fillRows(document.querySelector("#" + id + " tbody"), rows, (r, tr, i) => {
      if (r.item_id) tr.dataset.itemId = r.item_id;
      return toCells(r, i);
    }, emptyText, span);
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.status === 401) { window.location = "/login?next=/recommendations"; throw new Error("signed out"); }
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || ("HTTP " + response.status));
    return body;
  }

  function drawOffline(offline) {
    if (!window.Plotly || !offline.models || !offline.models.length) return;
    const key = "ndcg@" + (offline.k || 10);
    const rows = offline.models.slice().sort((a, b) => (a[key] || 0) - (b[key] || 0));
    Plotly.react("offline-chart", [{
      y: rows.map((r) => plotText(r.model)), x: rows.map((r) => r[key] || 0), type: "bar", orientation: "h",
      marker: { color: rows.map((r) => (r.kind === "baseline" ? "#adb5bd" : "#4c6ef5")) },
      hovertemplate: "%{y}: %{x:.4f}<extra></extra>",
    }], chartLayout({
      margin: { l: 210, r: 12, t: 8, b: 36 }, yaxis: { automargin: true }, xaxis: { gridcolor: "#eef0f3", rangemode: "tozero" },
    }), chartConfig);
  }

  function renderOffline(offline) {
    const k = offline.k || 10;
    const keys = ["ndcg@" + k, "precision@" + k, "recall@" + k, "hit_rate@" + k, "coverage"];
    fill("offline", offline.models || [], (r) => {
      const cells = [cell(r.model)];
      keys.forEach((key) => { const td = cell(Number(r[key] || 0).toFixed(4), "num"); td.dataset.metric = key; cells.push(td); });
      return cells;
    }, offline.error ? "Offline evaluation failed: " + offline.error : "No offline evaluation yet; it runs after each training.", keys.length + 1);
    const note = document.getElementById("offline-note");
    note.textContent = offline.note;  // the split, or when the evaluation will be ready (pages/recommendations.py)
    note.dataset.status = offline.status || "ready";
  }

  function setOnline(online) {
    document.querySelectorAll("[data-online]").forEach((el) => {
      const value = online[el.dataset.online];
      figure(el, value, el.dataset.format);
    });
  }

  let asked = 0;  // only the latest request may fill the panel

  async function tryIt(event) {
    if (event) event.preventDefault();
    const ticket = ++asked;
    const user = document.getElementById("try-user").value.trim();
    if (!user) return;
    const status = document.getElementById("try-status");
    const params = new URLSearchParams({ n: document.getElementById("try-n").value || "10", log: "false" });
    const seed = document.getElementById("try-seed").value;
    if (seed !== "") params.set("seed", seed);
    const session = document.getElementById("try-session").value.trim();
    if (session) params.set("session_id", session);
    const base = "/api/v1/recommendations/" + encodeURIComponent(user);
    status.textContent = "loading…";
    try {
      const [history, recs] = await Promise.all([getJSON(base + "/history?n=20"), getJSON(base + "?" + params)]);
      if (ticket !== asked) return;
      fill("try-history", history.items, (r) => [
        cell(r.ts.slice(0, 19).replace("T", " ")), cell(r.type.replace(/_/g, " ")), cell(r.title), cell(r.category),
      ], "No history: this customer gets trending items.", 4);
      fill("try-recs", recs.items, (r, i) => [
        cell(i + 1, "num"), cell(r.title), cell(r.category), cell(Number(r.score).toFixed(4), "num"), cell(r.reason, "reason"),
      ], "Nothing to recommend.", 5);
      document.getElementById("try-request").textContent = (recs.cold_start ? "cold start · " : "") + "model " + recs.model_version;
      status.textContent = "";
    } catch (e) {
      if (ticket === asked) status.textContent = e.message;
    }
  }

  async function retrain() {
    const button = document.getElementById("retrain");
    const status = document.getElementById("retrain-status");
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/recommender/retrain", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": button.dataset.csrf },
      });
      const body = await response.json();
      status.textContent = response.ok ? body.state : (body.message || "failed");
    } finally {
      button.disabled = false;
    }
  }

  async function refresh() {
    try {
      const payload = await getJSON("/api/v1/pages/recommendations");
      const d = payload.data;
      setOnline(d.online);
      renderOffline(d.offline);
      drawOffline(d.offline);
      const version = document.getElementById("model-version");
      if (version.dataset.version !== d.model.version) {
        version.dataset.version = d.model.version;
        version.replaceChildren(document.createTextNode("Serving "), Object.assign(document.createElement("code"), { textContent: d.model.version }));
      }
      document.getElementById("retrain-status").textContent = d.model.retrain.state;
    } catch (e) { /* the next refresh retries */ }
  }

  document.getElementById("try-form").addEventListener("submit", tryIt);
  document.getElementById("retrain").addEventListener("click", retrain);
  window.addEventListener("load", () => {
    drawOffline(initial.data.offline);
    if (document.getElementById("try-user").value) tryIt();
    setInterval(refresh, 10000);
  });
})();
