// Forecasts and Inventory pages. The Forecasts page searches the series, draws the chosen
// series' history and forecast as a fan chart (80% and 95% bands) and shows its model and
// backtest errors; the Inventory page lists the reorder plan and the category price
// elasticities. Everything comes from the page's JSON twin (/api/v1/pages/forecasts or
// /api/v1/pages/inventory) and the /api/v1/forecasts and /api/v1/inventory endpoints.
(function () {
  "use strict";
  const payload = JSON.parse(document.getElementById("page-data").textContent);
  const data = payload.data;
  const { formats, figure, el, fillRows, api, chartLayout, chartConfig: config, plotText, onRowActivate, afterTyping, showPage } = window.Dashboard;

  // Figures through the dashboard's one formatter (common.js).
  const fmt = {
    int: (v) => formats.decimal(v, 0),
    one: (v) => formats.decimal(v, 1),
    two: (v) => formats.decimal(v, 2),
    percent: formats.percent,
    text: (v) => (v === null || v === undefined || v === "" ? "—" : String(v)),
  };

  function codeCell(text) {
    const td = el("td");
    td.appendChild(el("code", text));
    return td;
  }

  const layout = (extra) => chartLayout({ margin: { l: 56, r: 16, t: 10, b: 40 } }, extra);

  // ---- Forecasts page ----------------------------------------------------------------------------
  function forecastsPage() {
    const chart = document.getElementById("fan-chart");
    const search = document.getElementById("series-search");
    const levelSelect = document.getElementById("series-level");
    const measureSelect = document.getElementById("series-measure");
    const sortSelect = document.getElementById("series-sort");
    const listBody = document.querySelector("#series-list tbody");
    const prev = document.getElementById("series-prev");
    const next = document.getElementById("series-next");
    const PAGE_SIZE = (data.series && data.series.limit) || 25;
    let offset = 0;
    let listTicket = 0;
    let detailTicket = 0;
    let selected = data.selected ? { level: data.selected.level, id: data.selected.id } : null;

    // Measures with forecasts per level, from the backtest summary.
    const measures = {};
    (data.accuracy || []).forEach((a) => { (measures[a.level] = measures[a.level] || []).push(a.measure); });
    function syncMeasures() {
      const allowed = measures[levelSelect.value] || ["units"];
      Array.from(measureSelect.options).forEach((o) => { o.disabled = !allowed.includes(o.value); });
      if (!allowed.includes(measureSelect.value)) measureSelect.value = allowed[0];
    }

    function drawFan(detail) {
      if (!window.Plotly) return;
      const past = detail.history.filter((h) => h.complete);
      const fc = detail.forecast;
      const xs = fc.map((f) => f.date);
      const back = xs.slice().reverse();
      const band = (lo, hi, name, color) => ({
        type: "scatter", mode: "lines", name, x: xs.concat(back),
        y: fc.map((f) => f[hi]).concat(fc.map((f) => f[lo]).reverse()),
        fill: "toself", fillcolor: color, line: { width: 0 }, hoverinfo: "skip",
      });
      const model = detail.model ? plotText(detail.model.name) : "no model";
      const traces = [
        band("lo_95", "hi_95", "95% interval", "rgba(76, 110, 245, 0.14)"),
        band("lo_80", "hi_80", "80% interval", "rgba(76, 110, 245, 0.30)"),
        { type: "scatter", mode: "lines+markers", name: "History", x: past.map((h) => h.date),
          y: past.map((h) => h.value), line: { color: "#1d2330", width: 2 }, marker: { size: 4 },
          hovertemplate: "%{x}: %{y:,.1f}<extra>history</extra>" },
        { type: "scatter", mode: "lines+markers", name: "Forecast (" + model + ")", x: xs,
          y: fc.map((f) => f.forecast), line: { color: "#3b5bdb", width: 2, dash: "dash" }, marker: { size: 4 },
          customdata: fc.map((f) => [f.lo_80, f.hi_80, f.lo_95, f.hi_95]),
          hovertemplate: "%{x}: %{y:,.1f}<br>80%: %{customdata[0]:,.1f} to %{customdata[1]:,.1f}"
            + "<br>95%: %{customdata[2]:,.1f} to %{customdata[3]:,.1f}<extra>forecast</extra>" },
      ];
      const shapes = xs.length ? [{ type: "line", xref: "x", yref: "paper", x0: xs[0], x1: xs[0], y0: 0, y1: 1,
        line: { color: "#adb5bd", width: 1, dash: "dot" } }] : [];
      Plotly.react(chart, traces, layout({
        shapes, legend: { orientation: "h", y: 1.12 },
        xaxis: { gridcolor: "#eef0f3" },
        yaxis: { title: { text: detail.measure === "revenue" ? "Revenue" : "Units" }, gridcolor: "#eef0f3", rangemode: "tozero" },
      }), config).then(() => {
        chart.dataset.series = detail.level + ":" + detail.id + ":" + detail.measure;
      });
    }

    function renderDetail(detail) {
      document.getElementById("series-title").textContent = detail.title || detail.id;
      const meta = document.getElementById("series-meta");
      meta.replaceChildren(detail.level + " ", el("code", detail.id),
        " · " + detail.measure + (detail.category ? " · " + detail.category : ""));
      const m = detail.model;
      document.getElementById("model-name").textContent = m ? m.name : "—";
      document.getElementById("model-mase").textContent = fmt.two(m && m.mase);
      document.getElementById("model-coverage").textContent = fmt.percent(m && m.coverage_80);
      const total = detail.forecast.reduce((s, f) => s + (f.forecast || 0), 0);
      const totalNode = document.getElementById("forecast-total");
      if (detail.forecast.length && Math.abs(total) >= 100000) figure(totalNode, total);  // compact, exact on hover
      else { totalNode.textContent = detail.forecast.length ? fmt.one(total) : "—"; totalNode.title = ""; }
      const e = detail.elasticity;
      document.getElementById("series-elasticity").textContent = fmt.two(e && e.elasticity);
      document.getElementById("series-message").textContent = detail.message || "";
      selected = { level: detail.level, id: detail.id };
      markSelected();
      drawFan(detail);
    }

    function markSelected() {
      listBody.querySelectorAll("tr[data-id]").forEach((tr) => {
        tr.classList.toggle("selected", !!selected && tr.dataset.id === selected.id && tr.dataset.level === selected.level);
      });
    }

    async function openSeries(level, id, measure) {
      const ticket = ++detailTicket;
      const params = new URLSearchParams({ measure: measure || "units" });
      try {
        const detail = await api(`/api/v1/forecasts/${encodeURIComponent(level)}/${encodeURIComponent(id)}?${params}`);
        if (ticket === detailTicket) renderDetail(detail);
      } catch (e) {
        if (ticket !== detailTicket) return;
        document.getElementById("series-title").textContent = id;
        document.getElementById("series-message").textContent = e.message;
      }
    }

    function renderList(result) {
      fillRows(listBody, result.series, (s, tr) => {
        tr.dataset.id = s.id;
        tr.dataset.level = s.level;
        tr.tabIndex = 0;
        return [codeCell(s.id), el("td", s.title), el("td", fmt.text(s.model)), el("td", fmt.two(s.mase), "num"),
          el("td", fmt.percent(s.coverage_80), "num"), el("td", fmt.one(s.forecast_total), "num")];
      }, result.message || "No series match.", 6);
      showPage(result, result.series.length, "series", document.getElementById("series-count"), prev, next);
      markSelected();
    }

    async function loadList() {
      const ticket = ++listTicket;
      const params = new URLSearchParams({ level: levelSelect.value, measure: measureSelect.value,
        sort: sortSelect.value, limit: String(PAGE_SIZE), offset: String(offset) });
      if (search.value.trim()) params.set("q", search.value.trim());
      try {
        const result = await api("/api/v1/forecasts?" + params.toString());
        if (ticket === listTicket) renderList(result);
      } catch (e) {
        if (ticket === listTicket) fillRows(listBody, [], null, e.message, 6);
      }
    }

    afterTyping(search, 250, () => { offset = 0; loadList(); });
    levelSelect.addEventListener("change", () => { syncMeasures(); offset = 0; loadList(); });
    [measureSelect, sortSelect].forEach((s) => s.addEventListener("change", () => { offset = 0; loadList(); }));
    prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); loadList(); });
    next.addEventListener("click", () => { offset += PAGE_SIZE; loadList(); });

    function onRow(event) {
      const row = event.target.closest("tr[data-id]");
      if (!row) return;
      event.preventDefault();
      history.replaceState(null, "", `#${row.dataset.level}=${encodeURIComponent(row.dataset.id)}`);
      openSeries(row.dataset.level, row.dataset.id, measureSelect.value);
    }
    onRowActivate(document.getElementById("series-list"), onRow);

    function route() {
      const hash = window.location.hash.slice(1);
      const match = /^(item|category)=(.+)$/.exec(hash);
      if (match && data.ready) {
        const level = match[1];
        levelSelect.value = level;
        syncMeasures();
        openSeries(level, decodeURIComponent(match[2]), measureSelect.value);
        return true;
      }
      return false;
    }
    window.addEventListener("hashchange", route);
    window.addEventListener("load", () => {
      syncMeasures();
      if (!route() && data.selected) drawFan(data.selected);
    });
  }

  // ---- Inventory page ----------------------------------------------------------------------------
  function inventoryPage() {
    const only = document.getElementById("only-reorder");
    const sortSelect = document.getElementById("reorder-sort");
    const body = document.querySelector("#reorder-table tbody");
    const prev = document.getElementById("reorder-prev");
    const next = document.getElementById("reorder-next");
    const PAGE_SIZE = data.reorder.limit || 50;
    const threshold = data.reorder.summary ? data.reorder.summary.at_risk_threshold : 0.5;
    let offset = 0;
    let ticket = 0;

    function itemLink(id) {
      const td = el("td");
      const a = el("a");
      a.href = "/forecasts#item=" + encodeURIComponent(id);
      a.appendChild(el("code", id));
      td.appendChild(a);
      return td;
    }

    function render(result) {
      fillRows(body, result.items, (i, tr) => {
        tr.dataset.item = i.item_id;
        tr.tabIndex = 0;
        tr.classList.toggle("reorder", !!i.reorder);
        tr.classList.toggle("at-risk", i.stockout_risk !== null && i.stockout_risk >= threshold);
        return [itemLink(i.item_id), el("td", fmt.text(i.title)), el("td", fmt.text(i.category)),
          el("td", fmt.int(i.stock), "num"), el("td", fmt.one(i.lead_time_demand), "num"), el("td", fmt.one(i.safety_stock), "num"),
          el("td", fmt.one(i.reorder_point), "num"), el("td", fmt.int(i.order_quantity), "num"),
          el("td", i.days_of_cover === null ? "beyond horizon" : fmt.one(i.days_of_cover), "num"),
          el("td", fmt.percent(i.stockout_risk), "num")];
      }, result.message || "No items to order now.", 10);
      showPage(result, result.items.length, "items", document.getElementById("reorder-count"), prev, next);
      body.dataset.sort = result.sort;
      body.dataset.onlyReorder = String(result.only_reorder);
    }

    async function load() {
      const mine = ++ticket;
      const params = new URLSearchParams({ sort: sortSelect.value, only_reorder: String(only.checked),
        limit: String(PAGE_SIZE), offset: String(offset) });
      try {
        const result = await api("/api/v1/inventory/reorder?" + params.toString());
        if (mine === ticket) render(result);
      } catch (e) {
        if (mine === ticket) fillRows(body, [], null, e.message, 10);
      }
    }
    [only, sortSelect].forEach((c) => c.addEventListener("change", () => { offset = 0; load(); }));
    prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); load(); });
    next.addEventListener("click", () => { offset += PAGE_SIZE; load(); });
    onRowActivate(document.getElementById("reorder-table"), (event) => {
      const row = event.target.closest("tr[data-item]");
      if (row && !event.target.closest("a")) window.location = "/forecasts#item=" + encodeURIComponent(row.dataset.item);
    });

    function drawElasticities() {
      const e = data.elasticities;
      const box = document.getElementById("elasticity-chart");
      if (!window.Plotly || !e.ready) return;
      const rows = e.elasticities.filter((c) => c.elasticity !== null);
      if (!rows.length) { box.replaceChildren(el("p", "No category elasticities.", "muted")); return; }
      Plotly.react(box, [{
        type: "bar", orientation: "h", y: rows.map((c) => plotText(c.id)), x: rows.map((c) => c.elasticity),
        error_x: { type: "data", array: rows.map((c) => 1.96 * (c.std_error || 0)), visible: true, color: "#495057" },
        marker: { color: rows.map((c) => (c.elasticity < -1 ? "#e8590c" : "#4c6ef5")) },
        hovertemplate: "%{y}: %{x:.2f}<extra></extra>",
      }], layout({
        margin: { l: 110, r: 16, t: 10, b: 40 },
        xaxis: { title: { text: "Elasticity (below −1: elastic)" }, zeroline: true, gridcolor: "#eef0f3" },
        yaxis: { autorange: "reversed", automargin: true },
      }), config);
    }
    window.addEventListener("load", drawElasticities);
  }

  if (payload.page === "inventory") inventoryPage();
  else forecastsPage();
})();
