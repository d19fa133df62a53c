// Overview page: live KPI tiles from the Server-Sent Events stream, charts and tables from the
// page's JSON twin (/api/v1/pages/overview). No third-party code besides the local plotly.js.
(function () {
  "use strict";
  const initial = JSON.parse(document.getElementById("page-data").textContent);
  const status = document.getElementById("live-status");
  let windowName = "1h";
  const { formats, figure, cell, fillRows, chartLayout, chartConfig: config, plotText } = window.Dashboard;

  function setTiles(live) {
    document.querySelectorAll("[data-kpi]").forEach((el) => {
      const win = live.windows[el.dataset.window];
      if (!win) return;
      const value = win[el.dataset.kpi];
      if (String(value) === el.dataset.value) return;
      figure(el, value, el.dataset.format);
      el.classList.add("flash");
      setTimeout(() => el.classList.remove("flash"), 600);
    });
  }

  function showWindow(name) {
    windowName = name;
    document.querySelectorAll("[data-window-tab]").forEach((b) => {
      const on = b.dataset.windowTab === name;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll("[data-kpi]").forEach((el) => el.classList.toggle("hidden", el.dataset.window !== name));
  }
  document.querySelectorAll("[data-window-tab]").forEach((b) => b.addEventListener("click", () => showWindow(b.dataset.windowTab)));

  const layout = (extra) => chartLayout({
    margin: { l: 44, r: 12, t: 8, b: 36 },
    xaxis: { gridcolor: "#eef0f3" }, yaxis: { gridcolor: "#eef0f3", rangemode: "tozero" },
  }, extra);

  function drawEvents(live) {
    if (!window.Plotly) return;
    const x = live.events_per_minute.map((p) => p.minute);
    const y = live.events_per_minute.map((p) => p.events);
    // The current minute is still filling: drawn pale and hatched, not as a drop.
    const partial = live.events_per_minute.map((p) => !!p.partial);
    Plotly.react("events-chart", [{
      x, y, type: "bar",
      marker: {
        color: partial.map((p) => (p ? "rgba(76, 110, 245, 0.35)" : "#4c6ef5")),
        pattern: { shape: partial.map((p) => (p ? "/" : "")), fgcolor: "#4c6ef5" },
      },
      text: partial.map((p) => (p ? " (minute in progress)" : "")), textposition: "none",
      hovertemplate: "%{x|%H:%M}: %{y} events%{text}<extra></extra>",
    }],
      layout({ bargap: 0.15 }), config);
  }

  // Right after start there are views but no sales: a chart of zeros (an axis from -1 to 1) says
  // nothing, so the card says what there is instead.
  function categoriesEmptyText(data) {
    if (!data.top_categories.length) return "No category activity yet today.";
    if (data.top_categories.some((r) => r.revenue > 0)) return null;
    const views = data.top_categories.reduce((n, r) => n + r.views, 0);
    return "No sales yet today (" + formats.number(views) + " product views so far).";
  }

  function drawCategories(data) {
    const chart = document.getElementById("categories-chart");
    const empty = categoriesEmptyText(data);
    chart.dataset.state = empty ? "empty" : "chart";
    if (empty) {
      if (window.Plotly) Plotly.purge(chart);
      chart.replaceChildren(Object.assign(document.createElement("p"), { className: "muted empty-note", textContent: empty }));
      return;
    }
    if (!window.Plotly) return;
    const note = chart.querySelector(".empty-note");
    if (note) note.remove();
    const rows = data.top_categories.slice().reverse();
    Plotly.react(chart, [{
      y: rows.map((r) => plotText(r.category)), x: rows.map((r) => r.revenue), type: "bar", orientation: "h",
      marker: { color: "#12b886" }, hovertemplate: "%{y}: %{x:,.2f}<extra></extra>",
    }], layout({ margin: { l: 150, r: 12, t: 8, b: 36 }, yaxis: { automargin: true } }), config);
  }

  const fillTable = (id, ...rest) => fillRows(document.querySelector("#" + id + " tbody"), ...rest);

  function renderTables(data) {
    // An item viewed but not bought today has no revenue ("—"), not 0.00 of it.
    fillTable("top-items", data.top_items, (r) => [
      cell(r.title || r.item_id), cell(r.category || "—"), cell(formats.number(r.views), "num"),
      cell(formats.number(r.add_to_carts), "num"), cell(formats.number(r.purchases), "num"),
      cell(r.purchases ? formats.money(r.revenue) : "—", "num"),
    ], "No item activity yet today.", 6);
    const sold = data.top_items.some((r) => r.purchases > 0);
    const note = document.getElementById("top-items-note");
    note.textContent = data.top_items.length && !sold ? "No sales yet today: the most viewed items so far." : "";
    note.classList.toggle("hidden", !note.textContent);
    fillTable("recent-orders", data.recent_orders, (r) => {
      const code = document.createElement("code"); code.textContent = r.order_id;
      const first = document.createElement("td"); first.appendChild(code);
      return [first, cell(r.user_id), cell(r.ts.slice(0, 19).replace("T", " ")), cell(formats.number(r.lines), "num"), cell(formats.money(r.amount), "num")];
    }, "No orders yet.", 5);
  }

  async function refreshPage() {
    try {
      const response = await fetch("/api/v1/pages/overview", { credentials: "same-origin" });
      if (response.status === 401) { window.location = "/login?next=/overview"; return; }
      if (!response.ok) return;
      const payload = await response.json();
      renderTables(payload.data);
      drawCategories(payload.data);
    } catch (e) { /* the next refresh retries */ }
  }

  function connect() {
    const source = new EventSource("/api/v1/live/stream");
    source.addEventListener("open", () => status.classList.add("on"));
    source.addEventListener("kpis", (ev) => {
      const live = JSON.parse(ev.data);
      setTiles(live);
      drawEvents(live);
    });
    source.addEventListener("error", () => status.classList.remove("on"));  // EventSource reconnects by itself
  }

  window.addEventListener("load", () => {
    drawEvents(initial.data.live);
    drawCategories(initial.data);
    connect();
    setInterval(refreshPage, 10000);
  });
})();
