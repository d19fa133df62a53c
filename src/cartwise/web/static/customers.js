// Customers page: Customer 360 search and detail, RFM heatmap, clusters, the segment builder
// with a live count, and lifetime value charts. Everything comes from the page's JSON twin
// (/api/v1/pages/customers) and the /api/v1/customers and /api/v1/segments endpoints.
(function () {
  "use strict";
  const payload = JSON.parse(document.getElementById("page-data").textContent);
  const data = payload.data;
  const { formats, figure, el, fillRows, api, chartLayout, chartConfig: config, plotText, onRowActivate, afterTyping, showPage } = window.Dashboard;
  const PAGE_SIZE = 25;
  const MODEL_NAMES = { mbgnbd: "MBG/NBD", pareto: "Pareto/NBD", bgnbd: "BG/NBD" };

  // Figures through the dashboard's one formatter (common.js); times and texts are the page's own.
  const fmt = {
    number: formats.number,
    money: formats.money,
    percent: formats.percent,
    decimal: (v) => formats.decimal(v, 2),
    days: (v) => formats.decimal(v, 0),
    time: (v) => (v ? String(v).slice(0, 19).replace("T", " ") : "—"),
    text: (v) => (v === null || v === undefined || v === "" ? "—" : String(v)),
  };

  // Profiles hold visitors (events, no order) beside buyers: every count says both.
  const buyersAndVisitors = (buyers, visitors) =>
    `${fmt.number(buyers)} buyer${buyers === 1 ? "" : "s"} and ${fmt.number(visitors)} visitor${visitors === 1 ? "" : "s"} without orders`;

  function userLink(id) {
    const td = el("td");
    const a = el("a", id);
    a.href = "#customer=" + encodeURIComponent(id);
    td.appendChild(a);
    return td;
  }

  // ---- charts ------------------------------------------------------------------------------
  const layout = (extra) => chartLayout({ margin: { l: 56, r: 16, t: 10, b: 48 } }, extra);
  const drawn = {};

  function drawHeatmap() {
    const rfm = data.rfm;
    if (!window.Plotly || !rfm.ready) return;
    const scores = [1, 2, 3, 4, 5];
    const cell = (r, f) => rfm.cells.find((c) => c.recency_score === r && c.frequency_score === f);
    const z = scores.map((r) => scores.map((f) => cell(r, f).customers));
    const text = scores.map((r) => scores.map((f) => {
      const c = cell(r, f);
      return `${plotText(c.segment)}<br>${fmt.number(c.customers)} customers<br>revenue ${fmt.money(c.revenue)}`;
    }));
    const annotations = [];
    scores.forEach((r) => scores.forEach((f) => {
      const c = cell(r, f);
      annotations.push({ x: f, y: r, text: fmt.number(c.customers), showarrow: false, font: { size: 13 },
        captureevents: false });
    }));
    Plotly.react("rfm-heatmap", [{
      type: "heatmap", x: scores, y: scores, z, text, hovertemplate: "R %{y} · F %{x}<br>%{text}<extra></extra>",
      colorscale: [[0, "#f1f3ff"], [1, "#3b5bdb"]], showscale: true, colorbar: { title: { text: "customers" }, thickness: 12 },
      xgap: 2, ygap: 2,
    }], layout({
      annotations,
      xaxis: { title: { text: "Frequency score (F)" }, dtick: 1, fixedrange: true },
      yaxis: { title: { text: "Recency score (R)" }, dtick: 1, fixedrange: true },
    }), config);
  }

  function drawHistogram() {
    const v = data.value;
    const box = document.getElementById("clv-histogram");
    if (!window.Plotly || !v.ready) return;
    if (!v.histogram.length) { box.innerHTML = '<p class="muted">No lifetime value predictions yet.</p>'; return; }
    const bins = v.histogram;
    const width = bins.length > 1 ? bins[1].lower - bins[0].lower : 1;
    const range = (b) => (b.upper === null ? "≥ " + fmt.money(b.lower) : fmt.money(b.lower) + " to " + fmt.money(b.upper));
    Plotly.react(box, [{
      type: "bar", x: bins.map((b) => b.lower + width / 2), width: bins.map(() => width * 0.95), y: bins.map((b) => b.customers),
      customdata: bins.map(range), marker: { color: bins.map((b) => (b.upper === null ? "#f59f00" : "#4c6ef5")) },
      hovertemplate: "CLV %{customdata}: %{y} customers<extra></extra>",
    }], layout({
      xaxis: { title: { text: "Predicted CLV over the next 12 months (last bar: top 1% and above)" }, gridcolor: "#eef0f3" },
      yaxis: { title: { text: "Customers" }, gridcolor: "#eef0f3", rangemode: "tozero" },
    }), config);
  }

  function drawCalibration() {
    const c = data.value.calibration;
    const box = document.getElementById("calibration-chart");
    if (!window.Plotly || !c) return;
    const x = c.groups.map((g) => plotText(g.label));
    Plotly.react(box, [
      { type: "bar", name: "Actual", x, y: c.groups.map((g) => g.actual), marker: { color: "#12b886" },
        customdata: c.groups.map((g) => g.customers), hovertemplate: "%{x} repeat purchases: actual %{y:.2f} (n=%{customdata})<extra></extra>" },
      { type: "bar", name: (MODEL_NAMES[c.model] || c.model) + " predicted", x, y: c.groups.map((g) => g.predicted), marker: { color: "#4c6ef5" },
        hovertemplate: "%{x} repeat purchases: predicted %{y:.2f}<extra></extra>" },
    ], layout({
      barmode: "group", legend: { orientation: "h", y: 1.12 },
      xaxis: { title: { text: "Repeat purchases in the calibration period" }, type: "category" },
      yaxis: { title: { text: "Mean holdout purchases" }, gridcolor: "#eef0f3", rangemode: "tozero" },
    }), config);
  }

  function drawAlive() {
    const c = data.value.calibration;
    const box = document.getElementById("alive-chart");
    if (!window.Plotly || !c) return;
    const bins = c.alive_bins;
    const label = (b) => b.lower.toFixed(1) + " to " + b.upper.toFixed(1);
    Plotly.react(box, [
      { type: "scatter", mode: "lines", name: "P(alive) = repeat rate", x: [0, 1], y: [0, 1],
        line: { color: "#adb5bd", dash: "dot" }, hoverinfo: "skip" },
      { type: "scatter", mode: "markers+lines", name: "Bought again in the holdout", x: bins.map((b) => b.mean_p_alive),
        y: bins.map((b) => b.repeat_rate), marker: { color: "#12b886", size: bins.map((b) => 6 + 14 * Math.sqrt(b.customers / c.customers)) },
        customdata: bins.map((b) => [label(b), b.customers]),
        hovertemplate: "P(alive) %{customdata[0]} (mean %{x:.2f}): %{y:.1%} bought again (n=%{customdata[1]})<extra></extra>" },
    ], layout({
      legend: { orientation: "h", y: 1.12 },
      xaxis: { title: { text: "Mean P(alive) in the bin, at the calibration end" }, range: [0, 1], gridcolor: "#eef0f3" },
      yaxis: { title: { text: "Share who bought again in the holdout" }, range: [0, 1], tickformat: ".0%", gridcolor: "#eef0f3" },
    }), config);
  }

  // ---- tabs ------------------------------------------------------------------------------------
  function showTab(name) {
    document.querySelectorAll("[data-tab]").forEach((b) => {
      const on = b.dataset.tab === name;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll(".tab-panel").forEach((p) => p.classList.toggle("hidden", p.id !== "tab-" + name));
    // Plotly measures its box when drawing, so charts are drawn once their tab is visible.
    if (name === "segments" && !drawn.segments) { drawHeatmap(); drawn.segments = true; }
    if (name === "value" && !drawn.value) { drawHistogram(); drawCalibration(); drawAlive(); drawn.value = true; }
  }
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => {
    history.replaceState(null, "", "#" + b.dataset.tab);
    showTab(b.dataset.tab);
  }));

  // ---- Customer 360: list and search --------------------------------------------------------
  const search = document.getElementById("customer-search");
  const segmentSelect = document.getElementById("customer-segment");
  const sortSelect = document.getElementById("customer-sort");
  const listBody = document.querySelector("#customer-list tbody");
  const prev = document.getElementById("page-prev");
  const next = document.getElementById("page-next");
  let offset = 0;
  let listRequest = 0;

  function renderList(result) {
    fillRows(listBody, result.customers, (c, tr) => {
      tr.dataset.user = c.user_id;
      tr.tabIndex = 0;
      return [userLink(c.user_id), el("td", fmt.text(c.country)), el("td", c.rfm_segment || "No orders"),
        el("td", fmt.number(c.orders), "num"), el("td", fmt.money(c.revenue), "num"), el("td", fmt.days(c.days_since_last_order), "num"),
        el("td", fmt.percent(c.p_alive), "num"), el("td", fmt.money(c.clv_12m), "num")];
    }, result.message || "No customers match.", 8);
    const countNode = document.getElementById("customer-count");
    showPage(result, result.customers.length, "customers", countNode, prev, next);
    if (result.ready) countNode.textContent += ": " + buyersAndVisitors(result.buyers, result.visitors);
  }

  async function loadList() {
    const ticket = ++listRequest;
    const params = new URLSearchParams({ sort: sortSelect.value, limit: String(PAGE_SIZE), offset: String(offset) });
    if (search.value.trim()) params.set("q", search.value.trim());
    if (segmentSelect.value) params.set("segment", segmentSelect.value);
    try {
      const result = await api("/api/v1/customers?" + params.toString());
      if (ticket === listRequest) renderList(result);
    } catch (e) {
      if (ticket === listRequest) fillRows(listBody, [], null, e.message, 8);
    }
  }

  afterTyping(search, 250, () => { offset = 0; loadList(); });
  [segmentSelect, sortSelect].forEach((s) => s.addEventListener("change", () => { offset = 0; loadList(); }));
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); loadList(); });
  next.addEventListener("click", () => { offset += PAGE_SIZE; loadList(); });

  // ---- Customer 360: detail -------------------------------------------------------------------
  const detail = document.getElementById("customer-detail");

  function setField(name, value, format) {
    const node = detail.querySelector(`[data-field="${name}"]`);
    if (format in formats) { figure(node, value, format); return; }  // cards: compact, exact on hover
    node.dataset.value = value === null || value === undefined ? "" : String(value);
    node.textContent = fmt[format](value);
  }

  function renderDetail(c) {
    const p = c.profile;
    document.getElementById("detail-id").textContent = c.user_id;
    document.getElementById("detail-meta").textContent =
      `first seen ${fmt.time(p.first_seen)} · last seen ${fmt.time(p.last_seen)} · profiles as of ${fmt.time(p.as_of)}`;
    setField("orders", p.orders, "number");
    setField("revenue", p.revenue, "money");
    setField("avg_order_value", p.avg_order_value, "money");
    setField("days_since_last_order", p.days_since_last_order, "days");
    const rfmNode = detail.querySelector('[data-field="rfm"]');
    rfmNode.textContent = c.rfm.recency_score === null ? "—" : `${c.rfm.recency_score}·${c.rfm.frequency_score}·${c.rfm.monetary_score}`;
    setField("rfm_segment", c.rfm.segment || "No orders", "text");
    setField("p_alive", c.predictions.p_alive, "percent");
    setField("expected_purchases_12m", c.predictions.expected_purchases_12m, "decimal");
    setField("clv_12m", c.predictions.clv_12m, "money");
    setField("p_churn", c.churn ? c.churn.p_churn : null, "percent");
    setField("p_purchase", c.churn ? c.churn.p_purchase : null, "percent");

    const facts = document.getElementById("detail-facts");
    facts.replaceChildren();
    [["Country", p.country], ["Channel", p.acquisition_channel], ["Device", p.device], ["Top category", p.top_category],
      ["Top brand", p.top_brand], ["Sessions", fmt.number(p.sessions)], ["Events", fmt.number(p.events)],
      ["Promotion share", fmt.percent(p.promo_share)], ["Price percentile", fmt.percent(p.price_percentile)],
      ["Email consent", p.email_consent === null ? null : (p.email_consent ? "yes" : "no")],
      ["Cluster", c.cluster ? `#${c.cluster.cluster} ${c.cluster.description || ""}` : null],
      ["Churn horizon", c.churn ? `${c.churn.horizon_days} days from ${c.churn.as_of}` : "not scored (cartwise churn score)"]]
      .forEach(([k, v]) => { facts.appendChild(el("dt", k)); facts.appendChild(el("dd", fmt.text(v))); });

    const chips = document.getElementById("detail-segments");
    chips.replaceChildren();
    if (c.rfm.segment) chips.appendChild(el("li", "RFM: " + c.rfm.segment, "chip rfm"));
    c.segments.forEach((s) => { const li = el("li", s.name, "chip"); li.title = s.rule; chips.appendChild(li); });
    if (!chips.children.length) chips.appendChild(el("li", "No segments", "muted"));

    fillRows(document.querySelector("#detail-orders tbody"), c.orders, (o) => [
      el("td", o.order_id), el("td", fmt.time(o.ts)), el("td", fmt.number(o.lines), "num"), el("td", fmt.money(o.amount), "num"),
    ], "No orders.", 4);
    fillRows(document.querySelector("#detail-identities tbody"), c.identities || [], (i) => [
      el("td", i.alias_id), el("td", i.evidence), el("td", fmt.time(i.first_seen)),
    ], "No other ids.", 3);
    fillRows(document.querySelector("#detail-merges tbody"), c.merges || [], (m) => [
      el("td", fmt.time(m.merged_at)), el("td", m.from_id), el("td", m.into_id), el("td", m.evidence),
      el("td", m.outcome === "refused" ? `refused: ${m.reason}` : m.outcome),
    ], "No merges.", 5);

    const events = document.getElementById("detail-events");
    events.replaceChildren();
    document.getElementById("detail-events-count").textContent = `latest ${c.events.length} of ${fmt.number(c.events_total)}`;
    if (!c.events.length) events.appendChild(el("li", "No events.", "muted"));
    c.events.forEach((e) => {
      const li = el("li", null, "ev ev-" + e.type);
      li.appendChild(el("span", fmt.time(e.ts), "ev-time"));
      li.appendChild(el("span", e.type.replace(/_/g, " "), "ev-type"));
      let what = e.title || e.item_id || "";
      if (e.type === "purchase" && e.revenue !== null) what += ` · ${fmt.money(e.revenue)}`;
      li.appendChild(el("span", what, "ev-what"));
      events.appendChild(li);
    });
    detail.classList.remove("hidden");
  }

  async function openCustomer(id) {
    showTab("c360");
    try {
      renderDetail(await api("/api/v1/customers/" + encodeURIComponent(id)));
      detail.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (e) {
      detail.classList.remove("hidden");
      document.getElementById("detail-id").textContent = id;
      document.getElementById("detail-meta").textContent = e.message;
    }
  }

  function onRowClick(event) {
    const row = event.target.closest("tr[data-user]");
    if (!row) return;
    event.preventDefault();
    history.replaceState(null, "", "#customer=" + encodeURIComponent(row.dataset.user));
    openCustomer(row.dataset.user);
  }
  ["customer-list", "top-customers"].forEach((id) => onRowActivate(document.getElementById(id), onRowClick));

  // ---- segment builder ------------------------------------------------------------------------
  const ruleInput = document.getElementById("rule-input");
  const ruleCount = document.getElementById("rule-count");
  const ruleShare = document.getElementById("rule-share");
  const ruleError = document.getElementById("rule-error");
  let ruleTicket = 0;

  async function countRule() {
    const rule = ruleInput.value.trim();
    const ticket = ++ruleTicket;
    if (!rule) {
      ruleCount.textContent = "—"; ruleCount.dataset.count = ""; ruleShare.textContent = "";
      ruleError.classList.add("hidden");
      return;
    }
    ruleCount.classList.add("pending");
    try {
      const result = await api("/api/v1/segments/count", { method: "POST", body: { rule } });
      if (ticket !== ruleTicket) return;
      ruleCount.dataset.count = String(result.count);
      ruleCount.dataset.rule = rule;
      ruleCount.textContent = `${fmt.number(result.count)} customers`;
      ruleShare.textContent = `${fmt.number(result.buyers)} of ${fmt.number(result.buyers_total)} buyers; ` +
        `${fmt.number(result.visitors)} of ${fmt.number(result.visitors_total)} visitors without orders ` +
        `(${fmt.percent(result.share)} of ${fmt.number(result.total)} customers incl. visitors)`;
      ruleError.classList.add("hidden");
    } catch (e) {
      if (ticket !== ruleTicket) return;
      ruleCount.dataset.count = "";
      ruleCount.textContent = "—";
      ruleShare.textContent = "";
      ruleError.textContent = e.message;
      ruleError.classList.remove("hidden");
    } finally {
      if (ticket === ruleTicket) ruleCount.classList.remove("pending");
    }
  }
  afterTyping(ruleInput, 300, countRule);

  function renderSaved(segments) {
    const body = document.querySelector("#saved-segments tbody");
    fillRows(body, segments, (s, tr) => {
      tr.dataset.name = s.name;
      const rule = el("td"); rule.appendChild(el("code", s.rule));
      const actions = el("td");
      const del = el("button", "Delete", "small-button danger");
      del.type = "button";
      del.addEventListener("click", () => deleteSegment(s.name));
      actions.appendChild(del);
      return [el("td", s.name), rule, el("td", fmt.number(s.size), "num"), el("td", fmt.money(s.revenue), "num"),
        el("td", s.history.map((h) => h.size).join(" → "), "muted"), actions];
    }, "No saved segments yet: write a rule in the builder and save it.", 6);
    const group = document.getElementById("saved-segment-options");
    group.replaceChildren();
    segments.forEach((s) => { const o = el("option", s.name); o.value = s.name; group.appendChild(o); });
  }

  async function refreshSaved() {
    const result = await api("/api/v1/segments");
    renderSaved(result.segments);
  }

  const saveStatus = document.getElementById("save-status");
  document.getElementById("segment-save").addEventListener("click", async () => {
    const name = document.getElementById("segment-name").value.trim();
    const rule = ruleInput.value.trim();
    if (!name || !rule) { saveStatus.textContent = "Write a rule and give the segment a name first."; return; }
    try {
      const saved = await api("/api/v1/segments", {
        method: "POST", body: { name, rule, description: document.getElementById("segment-description").value.trim() },
      });
      saveStatus.textContent = `${saved.replaced ? "Replaced" : "Saved"} “${saved.name}” with ${fmt.number(saved.size)} customers.`;
      await refreshSaved();
    } catch (e) {
      saveStatus.textContent = e.message;
    }
  });

  async function deleteSegment(name) {
    if (!window.confirm(`Delete segment “${name}”?`)) return;
    try {
      await api("/api/v1/segments/" + encodeURIComponent(name), { method: "DELETE" });
      saveStatus.textContent = `Deleted “${name}”.`;
      await refreshSaved();
    } catch (e) {
      saveStatus.textContent = e.message;
    }
  }

  // ---- start -----------------------------------------------------------------------------------
  function route() {
    const hash = decodeURIComponent(window.location.hash.slice(1));
    if (hash.startsWith("customer=")) { openCustomer(hash.slice("customer=".length)); return; }
    if (hash.startsWith("segment=")) {
      segmentSelect.value = hash.slice("segment=".length);
      showTab("c360"); offset = 0; loadList();
      return;
    }
    showTab(["c360", "segments", "value"].includes(hash) ? hash : "c360");
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("load", () => {
    if (data.ready) renderSaved(data.segments);
    route();
  });
})();
