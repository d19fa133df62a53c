// Analytics page: KPI tiles and trend, funnel builder, retention heatmap, cohort LTV curves and
// the rules table. First drawn from the page JSON (#page-data, the same as /api/v1/pages/analytics),
// then redrawn from /api/v1/analytics/* as the forms change. No third-party code besides plotly.js.
(function () {
  "use strict";
  const payload = JSON.parse(document.getElementById("page-data").textContent);
  const data = payload.data;
  const $ = (id) => document.getElementById(id);

  const { formats, figure, cell, fillRows, chartLayout, chartConfig: config, plotText } = window.Dashboard;
  const changeText = (c) => (c === null || c === undefined ? "—" : (c >= 0 ? "+" : "-") + Math.abs(c * 100).toFixed(1) + "%");

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " d";
  }

  const layout = (extra) => chartLayout({
    margin: { l: 56, r: 16, t: 10, b: 44 }, xaxis: { gridcolor: "#eef0f3" }, yaxis: { gridcolor: "#eef0f3" },
  }, extra);

  function emptyChart(id, text) {
    const el = $(id);
    if (window.Plotly) Plotly.purge(el);
    el.replaceChildren();
    const p = document.createElement("p");
    p.className = "muted an-empty";
    p.textContent = text;
    el.appendChild(p);
  }

  function prepareChart(id) {
    const el = $(id);
    const note = el.querySelector(".an-empty");
    if (note) note.remove();
    return el;
  }

  const emptyRow = (body, text, span) => fillRows(body, [], null, text, span);

  function showError(id, message) {
    const el = $(id);
    el.textContent = message || "";
    el.classList.toggle("hidden", !message);
  }

  // One request at a time per section: an answer to an older request is dropped.
  const latest = {};
  async function api(section, path, params) {
    const query = new URLSearchParams();
    Object.entries(params).forEach(([k, v]) => { if (v !== null && v !== undefined && v !== "") query.set(k, v); });
    const ticket = (latest[section] = (latest[section] || 0) + 1);
    const card = $(section + "-card");
    card.dataset.state = "loading";
    const response = await fetch(path + "?" + query.toString(), { credentials: "same-origin" });
    if (response.status === 401) { window.location = "/login?next=/analytics"; return null; }
    let body = null;
    try { body = await response.json(); } catch (e) { body = { message: "The server answered " + response.status + "." }; }
    if (ticket !== latest[section]) return null;
    if (!response.ok) {
      card.dataset.state = "error";
      throw new Error(body.message || "Request failed (" + response.status + ").");
    }
    return body;
  }

  // -- KPIs ------------------------------------------------------------------------------------
  let kpiData = data.kpis;
  const tileFormats = Object.fromEntries(data.options.tiles.map((t) => [t.kpi, t.format]));
  const tileLabels = Object.fromEntries(data.options.tiles.map((t) => [t.kpi, t.label]));

  function renderKpis(k) {
    kpiData = k;
    const tiles = k.tiles;
    const periodNote = $("kpi-period");
    if (!tiles) {
      periodNote.textContent = "No events in this range yet: load events with `cartwise ingest` or send them to /api/v1/events.";
    } else {
      const name = { day: "Day", week: "Week of", month: "Month of" }[k.grain];
      periodNote.textContent = name + " " + tiles.period_start + " compared with the " + k.grain + " before" +
        (tiles.partial ? " (partial: the data stop before it ends)." : ".");
    }
    document.querySelectorAll("[data-kpi-tile]").forEach((tile) => {
      const key = tile.dataset.kpiTile;
      const item = tiles ? tiles.kpis.find((t) => t.kpi === key) : null;
      const value = tile.querySelector("[data-kpi]");
      const prev = tile.querySelector("[data-kpi-prev]");
      const change = tile.querySelector("[data-kpi-change]");
      figure(value, item ? item.value : null, tileFormats[key]);
      figure(prev, item ? item.previous : null, tileFormats[key]);
      // null: a measure the data cannot give (visits and sessions need events; orders alone do not say)
      if (item && item.value === null) {
        value.textContent = "n/a";
        value.title = "Needs events: this period has orders only (a transaction log).";
      }
      if (item && item.previous === null) prev.textContent = "n/a";
      change.dataset.value = item && item.change !== null ? String(item.change) : "";
      change.textContent = item ? changeText(item.change) : "—";
      change.classList.toggle("up", !!item && item.change > 0);
      change.classList.toggle("down", !!item && item.change < 0);
      change.title = item && item.change === null ? "No previous value to compare with" : "Change from the previous " + k.grain;
    });
    $("kpi-card").dataset.state = "ready";
    drawTrend();
  }

  function drawTrend() {
    if (!window.Plotly) return;
    const metric = $("trend-metric").value;
    const periods = kpiData.periods;
    if (!periods.length) { emptyChart("trend-chart", "No periods to chart yet."); return; }
    if (periods.every((p) => p[metric] === null)) {
      emptyChart("trend-chart", tileLabels[metric] + " needs events; these periods have orders only (a transaction log).");
      return;
    }
    const el = prepareChart("trend-chart");
    const fmt = tileFormats[metric];
    const tick = fmt === "percent" ? ".0%" : fmt === "money" ? ",.0f" : ",d";
    const hover = fmt === "percent" ? "%{y:.1%}" : fmt === "money" ? "%{y:,.2f}" : "%{y:,}";
    const x = periods.map((p) => p.period_start);
    const y = periods.map((p) => p[metric]);
    // A partial period (the data stop before it ends) is drawn dashed and hollow from the last
    // complete one, never as a fall of the solid line.
    const solid = periods.map((p, i) => (p.partial ? null : y[i]));
    const lastComplete = periods.map((p) => p.partial).lastIndexOf(false);
    const dashed = periods.map((p, i) => (p.partial || i === lastComplete ? y[i] : null));
    const partial = periods.filter((p) => p.partial);
    // Periods skip empty stretches of more than a year: then a date axis would squash the data.
    const contiguous = periods.every((p, i) => i === 0 || periods[i - 1].period_end === p.period_start);
    const traces = [{
      x, y: solid, type: "scatter", mode: "lines+markers", name: plotText(tileLabels[metric]), connectgaps: false,
      line: { color: "#4c6ef5", width: 2 }, marker: { size: 6, color: "#4c6ef5" },
      hovertemplate: "%{x}: " + hover + "<extra></extra>",
    }];
    if (partial.length) {
      traces.push({
        x, y: dashed, type: "scatter", mode: "lines+markers", name: "Partial", connectgaps: false,
        line: { color: "#4c6ef5", width: 2, dash: "dash" },
        marker: { size: 7, color: periods.map((p) => (p.partial ? "#ffffff" : "#4c6ef5")), line: { color: "#4c6ef5", width: 1.5 } },
        text: periods.map((p) => (p.partial ? " (partial: the data stop before it ends)" : "")),
        hovertemplate: "%{x}: " + hover + "%{text}<extra></extra>",
      });
    }
    const note = $("trend-note");
    note.textContent = partial.length
      ? "Dashed: " + partial.map((p) => p.period_start).join(", ") + " " + (partial.length > 1 ? "are" : "is") +
        " partial (the data stop before " + (partial.length > 1 ? "they end" : "it ends") + "), not a fall."
      : "";
    note.classList.toggle("hidden", !partial.length);
    Plotly.react(el, traces, layout({
      xaxis: {
        title: { text: kpiData.grain === "day" ? "Day" : kpiData.grain === "week" ? "Week starting" : "Month" },
        gridcolor: "#eef0f3", type: contiguous ? "date" : "category",
      },
      yaxis: { title: { text: plotText(tileLabels[metric]) }, tickformat: tick, rangemode: "tozero", gridcolor: "#eef0f3" },
      showlegend: false,
    }), config);
  }

  // The form's "To" day is included; the API's `end` is the first instant left out.
  function dayAfter(day) {
    if (!day) return "";
    const next = new Date(day + "T00:00:00Z");
    next.setUTCDate(next.getUTCDate() + 1);
    return next.toISOString().slice(0, 10);
  }

  // What a view's `start` and `end` (ISO instants from the API) cover, in words.
  function rangeText(view, what = "events") {
    const day = (iso) => iso.slice(0, 10) + (iso.slice(11, 19) === "00:00:00" ? "" : " " + iso.slice(11, 16));
    if (view.start && view.end) return what + " on or after " + day(view.start) + " and before " + day(view.end) + " (UTC)";
    if (view.start) return what + " on or after " + day(view.start) + " (UTC)";
    if (view.end) return what + " before " + day(view.end) + " (UTC)";
    return "all " + what;
  }

  async function loadKpis() {
    showError("kpi-error", "");
    try {
      const k = await api("kpi", "/api/v1/analytics/kpis", { grain: $("kpi-grain").value, start: $("kpi-start").value, end: dayAfter($("kpi-end").value) });
      if (k) renderKpis(k);
    } catch (e) { showError("kpi-error", e.message); }
  }

  // -- funnel ----------------------------------------------------------------------------------
  function renderFunnel(f) {
    const body = document.querySelector("#funnel-table tbody");
    const segWrap = $("funnel-segments-wrap");
    if (!f) {
      emptyRow(body, "Build a funnel: enter two or more event types in order.", 6);
      emptyChart("funnel-chart", "No funnel yet.");
      segWrap.classList.add("hidden");
      $("funnel-card").dataset.state = "ready";
      return;
    }
    body.replaceChildren();
    f.steps.forEach((s, i) => {
      const tr = document.createElement("tr");
      tr.dataset.step = s.step;
      const users = cell(formats.number(s.users), "num");
      users.dataset.users = String(s.users);
      tr.append(cell(s.step), users,
        cell(i ? formats.percent(s.conversion_from_previous) : "—", "num"),
        cell(i ? formats.percent(s.conversion_from_first) : "—", "num"),
        cell(duration(s.median_seconds_from_previous), "num"), droppedCell(f, s, i));
      body.appendChild(tr);
    });
    drawFunnel(f);
    renderSegments(f);
    $("funnel-range").textContent = "Over " + rangeText(f) + ", window " + f.window + ".";
    $("funnel-card").dataset.state = "ready";
    $("funnel-card").dataset.steps = f.steps_param;
    $("funnel-card").dataset.breakdown = f.breakdown || "";
    $("funnel-card").dataset.range = (f.start || "") + "/" + (f.end || "");
  }

  // The users who dropped at a step, as a CSV download of the same funnel (an audience).
  function droppedCell(f, s, i) {
    if (!i) return cell("—", "num");
    const td = cell("", "num");
    const query = new URLSearchParams({ format: "csv", steps: f.steps_param, window: f.window, step: s.step });
    if (f.start) query.set("start", f.start);
    if (f.end) query.set("end", f.end);
    const link = document.createElement("a");
    link.href = "/api/v1/analytics/funnel/dropped?" + query.toString();
    link.download = "";
    link.title = "Download the " + formats.number(s.dropped) + " users who reached " + f.steps[i - 1].step + " but not " + s.step + " (CSV)";
    link.textContent = formats.number(s.dropped);
    td.appendChild(link);
    return td;
  }

  function drawFunnel(f) {
    if (!window.Plotly) return;
    if (!f.steps[0].users) { emptyChart("funnel-chart", "Nobody did the first step (" + f.steps[0].step + ") in this range."); return; }
    const el = prepareChart("funnel-chart");
    const labels = f.steps.map((s) => plotText(s.step));
    let traces;
    if (f.breakdown && f.segments.length) {
      // Segments side by side per step; the table below lists every segment.
      traces = f.segments.slice(0, 12).map((seg) => ({
        type: "bar", name: seg.segment === null ? "(none)" : plotText(seg.segment), x: labels, y: seg.steps.map((s) => s.users),
        customdata: seg.steps.map((s) => s.conversion_from_first),
        hovertemplate: "%{fullData.name} · %{x}: %{y:,} users (%{customdata:.1%} of the first step)<extra></extra>",
      }));
      Plotly.react(el, traces, layout({
        barmode: "group", showlegend: true, legend: { title: { text: plotText(f.breakdown) } },
        xaxis: { title: { text: "Step" } }, yaxis: { title: { text: "Users" }, tickformat: ",d", rangemode: "tozero", gridcolor: "#eef0f3" },
      }), config);
      return;
    } else {
      traces = [{
        type: "funnel", name: "All users", y: labels, x: f.steps.map((s) => s.users), marker: { color: "#4c6ef5" },
        textinfo: "value+percent previous", connector: { fillcolor: "#dbe4ff" },
        hovertemplate: "%{y}: %{x:,} users<br>%{percentPrevious:.1%} of the previous step, %{percentInitial:.1%} of the first<extra></extra>",
      }];
    }
    Plotly.react(el, traces, layout({
      margin: { l: 120, r: 16, t: 10, b: 30 }, funnelmode: "group", showlegend: traces.length > 1,
      legend: { title: { text: plotText(f.breakdown) } }, yaxis: { automargin: true },
    }), config);
  }

  function renderSegments(f) {
    const wrap = $("funnel-segments-wrap");
    if (!f.breakdown) { wrap.classList.add("hidden"); return; }
    wrap.classList.remove("hidden");
    $("funnel-breakdown-name").textContent = f.breakdown;
    const head = document.querySelector("#funnel-segments thead");
    const tr = document.createElement("tr");
    const th = (text, cls) => { const el = document.createElement("th"); el.textContent = text; if (cls) el.className = cls; return el; };
    tr.appendChild(th(f.breakdown));
    f.steps.forEach((s) => tr.appendChild(th(s.step, "num")));
    tr.appendChild(th("First to last", "num"));
    head.replaceChildren(tr);
    const body = document.querySelector("#funnel-segments tbody");
    if (!f.segments.length) { emptyRow(body, "No segments.", f.steps.length + 2); return; }
    body.replaceChildren();
    f.segments.forEach((seg) => {
      const row = document.createElement("tr");
      row.dataset.segment = seg.segment === null ? "" : seg.segment;
      row.appendChild(cell(seg.segment === null ? "(none)" : seg.segment));
      seg.steps.forEach((s) => row.appendChild(cell(formats.number(s.users), "num")));
      row.appendChild(cell(formats.percent(seg.steps[seg.steps.length - 1].conversion_from_first), "num"));
      body.appendChild(row);
    });
  }

  async function loadFunnel() {
    showError("funnel-error", "");
    try {
      const f = await api("funnel", "/api/v1/analytics/funnel", {
        steps: $("funnel-steps").value.trim(), window: $("funnel-window").value.trim(), breakdown: $("funnel-breakdown").value,
        start: $("funnel-start").value, end: dayAfter($("funnel-end").value),
      });
      if (f) renderFunnel(f);
    } catch (e) { showError("funnel-error", e.message); }
  }

  // -- retention -------------------------------------------------------------------------------
  let retentionData = data.retention;

  function renderRetention(r) {
    retentionData = r;
    const note = $("retention-note");
    if (!r.cohorts.length) {
      if (r.start || r.end) note.textContent = "No cohorts over " + rangeText(r) + ".";
      else note.textContent = r.cohort === "first_purchase" ? "No purchases yet, so no cohorts." : "No events yet, so no cohorts.";
      emptyChart("retention-heatmap", "No cohorts to show.");
      emptyChart("ltv-chart", "No cohorts to show.");
      $("retention-card").dataset.state = "ready";
      return;
    }
    const users = r.cohorts.reduce((n, c) => n + c.cohort_users, 0);
    note.textContent = r.cohorts.length + " " + r.grain + "ly cohorts, " + formats.number(users) + " users over " + rangeText(r) + "; cohort by " +
      (r.cohort === "first_purchase" ? "first purchase" : "first event") + ", active = " + (r.activity === "any" ? "any event" : "a purchase") +
      ". Period 0 is the cohort's own " + r.grain + "; the latest periods may be partial.";
    drawHeatmap();
    drawLtv();
    $("retention-card").dataset.state = "ready";
  }

  // The heatmap's plot area is its box less the cohort labels and colour bar (x) and the axis titles (y).
  const HEATMAP_MARGIN_X = 230, HEATMAP_MARGIN_Y = 60;

  function drawHeatmap() {
    if (!window.Plotly || !retentionData.cohorts.length) return;
    const r = retentionData;
    const metric = $("retention-metric").value;
    const el = prepareChart("retention-heatmap");
    // Period numbers skip an empty stretch of more than a year (one stray far-future event).
    const numbers = r.period_numbers || Array.from({ length: r.periods }, (_, i) => i);
    const x = numbers.map(String);
    const y = r.cohorts.map((c) => plotText(c.cohort_start) + " (" + formats.number(c.cohort_users) + ")");
    const z = r.cohorts.map((c) => x.map((_, i) => (i < c[metric].length ? c[metric][i] : null)));
    const later = z.flatMap((row) => row.slice(1)).filter((v) => v !== null);
    const zmax = Math.max(0.05, ...later);
    // A label only where it fits ("100%" at 10 px needs ~30 x 14 px): 53 weekly cohorts would
    // print a label in every cell and read as noise; then hover shows each cell's value.
    const cellWidth = (el.clientWidth - HEATMAP_MARGIN_X) / Math.max(1, x.length);
    const cellHeight = (el.clientHeight - HEATMAP_MARGIN_Y) / Math.max(1, y.length);
    const labelled = cellWidth >= 30 && cellHeight >= 14;
    el.dataset.labels = labelled ? "on" : "off";
    const hint = $("retention-hint");
    hint.textContent = labelled ? "" : "Too many cells to label: hover a cell for its value, or pick a coarser grain or a shorter range.";
    hint.classList.toggle("hidden", labelled);
    Plotly.react(el, [{
      type: "heatmap", x, y, z, zmin: 0, zmax, colorscale: "Blues", reversescale: true, xgap: 1, ygap: 1,
      text: z.map((row) => row.map((v) => (v === null ? "" : (v * 100).toFixed(0) + "%"))), texttemplate: labelled ? "%{text}" : "",
      textfont: { size: 10 }, colorbar: { tickformat: ".0%", title: { text: metric === "retention" ? "Active" : "Revenue vs period 0" } },
      hovertemplate: "Cohort %{y}<br>" + plotText(r.grain) + " %{x}: %{z:.1%}<extra></extra>",
    }], layout({
      margin: { l: 130, r: 10, t: 10, b: 44 },
      xaxis: { title: { text: r.grain[0].toUpperCase() + r.grain.slice(1) + "s since the cohort's first" }, type: "category", side: "bottom" },
      yaxis: { title: { text: "Cohort (users)" }, autorange: "reversed", type: "category", automargin: true },
    }), config);
  }

  function drawLtv() {
    if (!window.Plotly || !retentionData.cohorts.length) return;
    const r = retentionData;
    const el = prepareChart("ltv-chart");
    const n = r.cohorts.length;
    const numbers = r.period_numbers || Array.from({ length: r.periods }, (_, i) => i);
    const traces = r.cohorts.map((c, i) => ({
      type: "scatter", mode: "lines", name: plotText(c.cohort_start), x: c.ltv.map((_, k) => numbers[k]), y: c.ltv, connectgaps: false,
      line: { width: 1.6, color: "hsl(" + Math.round(225 - (i / Math.max(1, n - 1)) * 190) + ", 65%, 48%)" },
      hovertemplate: "Cohort %{fullData.name}<br>" + plotText(r.grain) + " %{x}: %{y:,.2f} per customer<extra></extra>",
    }));
    Plotly.react(el, traces, layout({
      xaxis: { title: { text: r.grain[0].toUpperCase() + r.grain.slice(1) + "s since the cohort's first" }, dtick: n > 0 && r.periods > 20 ? 2 : 1, gridcolor: "#eef0f3" },
      yaxis: { title: { text: "Cumulative revenue per customer" }, tickformat: ",.0f", rangemode: "tozero", gridcolor: "#eef0f3" },
      legend: { title: { text: "Cohort" }, font: { size: 11 } },
    }), config);
  }

  async function loadRetention() {
    showError("retention-error", "");
    try {
      const r = await api("retention", "/api/v1/analytics/retention", {
        cohort: $("retention-cohort").value, grain: $("retention-grain").value, activity: $("retention-activity").value,
        start: $("retention-start").value, end: dayAfter($("retention-end").value),
      });
      if (r) renderRetention(r);
    } catch (e) { showError("retention-error", e.message); }
  }

  // -- rules -----------------------------------------------------------------------------------
  let rulesPage = 1;

  function itemsCell(items) {
    const td = document.createElement("td");
    const box = document.createElement("div");
    box.className = "an-items";
    items.forEach((it) => {
      const line = document.createElement("div");
      line.textContent = it.title || it.item_id;
      if (it.title) { const code = document.createElement("code"); code.textContent = it.item_id; line.appendChild(code); }
      box.appendChild(line);
    });
    td.appendChild(box);
    return td;
  }

  // Which thresholds the rules were mined at, and where the support came from.
  function thresholdsText(r) {
    const orders = formats.number(r.support_orders) + " order" + (r.support_orders === 1 ? "" : "s");
    const why = {
      data: "picked from the data: the highest support at which about " + r.target_pairs + " item pairs qualify",
      given: "as given",
      default: "the default: no two items share an order",
    }[r.support_source];
    return "support \u2265 " + String(Number(r.min_support.toPrecision(3))) + " = " + orders + ", " + why + "; confidence \u2265 " + r.min_confidence;
  }

  function renderRules(r) {
    const supportInput = $("rules-support");
    if (r.support_source !== "given") supportInput.placeholder = "auto (" + String(Number(r.min_support.toPrecision(3))) + ")";
    rulesPage = r.page;
    const body = document.querySelector("#rules-table tbody");
    const summary = $("rules-summary");
    if (!r.rules.length) {
      let text = "No rules at these thresholds: lower the minimum support or confidence.";
      if (!r.baskets) text = r.start || r.end ? "No orders were placed in this range." : "No orders yet, so nothing is bought together.";
      else if (r.q && r.total_rules) text = "No rule mentions \u201c" + r.q + "\u201d.";
      emptyRow(body, text, 7);
    } else {
      body.replaceChildren();
      r.rules.forEach((rule) => {
        const tr = document.createElement("tr");
        tr.dataset.rule = String(rule.rank);
        tr.dataset.items = rule.antecedents.concat(rule.consequents).map((i) => i.item_id).join("|");
        tr.append(cell(String(rule.rank), "num"), itemsCell(rule.antecedents), itemsCell(rule.consequents),
          cell(formats.number(rule.orders), "num"), cell(formats.percent(rule.support), "num"),
          cell(formats.percent(rule.confidence), "num"), cell(rule.lift.toFixed(2), "num"));
        body.appendChild(tr);
      });
    }
    const first = r.rules.length ? (r.page - 1) * r.page_size + 1 : 0;
    const last = first ? first + r.rules.length - 1 : 0;
    summary.textContent = (r.q ? formats.number(r.matching) + " of " + formats.number(r.total_rules) + " rules match \u201c" + r.q + "\u201d" : formats.number(r.total_rules) + " rules") +
      " over " + formats.number(r.baskets) + " orders" + (r.start || r.end ? " placed" + rangeText(r, "").replace(" (UTC)", " UTC") : "") + " (" + thresholdsText(r) + ")" +
      (first ? "; showing " + first + "\u2013" + last + ", highest lift first." : ".");
    $("rules-page").textContent = "Page " + r.page + " of " + r.pages;
    $("rules-prev").disabled = r.page <= 1;
    $("rules-next").disabled = r.page >= r.pages;
    $("rules-card").dataset.state = "ready";
    $("rules-card").dataset.q = r.q;
    $("rules-card").dataset.range = (r.start || "") + "/" + (r.end || "");
  }

  async function loadRules(page) {
    showError("rules-error", "");
    try {
      const r = await api("rules", "/api/v1/analytics/rules", {
        q: $("rules-search").value.trim(), min_support: $("rules-support").value, min_confidence: $("rules-confidence").value,
        page: page || 1, page_size: data.defaults.page_size,
        start: $("rules-start").value, end: dayAfter($("rules-end").value),
      });
      if (r) renderRules(r);
    } catch (e) { showError("rules-error", e.message); }
  }

  // -- wiring ----------------------------------------------------------------------------------
  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  $("kpi-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadKpis(); });
  $("kpi-grain").addEventListener("change", loadKpis);
  $("trend-metric").addEventListener("change", drawTrend);
  $("funnel-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadFunnel(); });
  document.querySelectorAll("[data-add-step]").forEach((b) => b.addEventListener("click", () => {
    const input = $("funnel-steps");
    const current = input.value.trim().replace(/,+$/, "");
    input.value = current ? current + "," + b.dataset.addStep : b.dataset.addStep;
    input.focus();
  }));
  ["retention-cohort", "retention-grain", "retention-activity", "retention-start", "retention-end"].forEach((id) => $(id).addEventListener("change", loadRetention));
  $("retention-metric").addEventListener("change", drawHeatmap);
  $("rules-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadRules(1); });
  $("rules-search").addEventListener("input", debounce(() => loadRules(1), 250));
  $("rules-support").addEventListener("change", () => loadRules(1));
  $("rules-confidence").addEventListener("change", () => loadRules(1));
  ["rules-start", "rules-end"].forEach((id) => $(id).addEventListener("change", () => loadRules(1)));
  $("rules-prev").addEventListener("click", () => loadRules(rulesPage - 1));
  $("rules-next").addEventListener("click", () => loadRules(rulesPage + 1));

  function firstRender() {
    renderKpis(data.kpis);
    renderFunnel(data.funnel);
    renderRetention(data.retention);
    renderRules(data.rules);
  }
  // Tables and tiles need no plotly: draw them now, and the charts again once plotly.js is in.
  const hadPlotly = !!window.Plotly;
  firstRender();
  window.addEventListener("load", () => {
    if (!hadPlotly) {
      drawTrend();
      if (data.funnel) drawFunnel(data.funnel);
      drawHeatmap();
      drawLtv();
    }
    document.body.dataset.analyticsReady = "true";
  });
})();
