// Experiments page: the list, the selected experiment's results (an interval chart and a table,
// with the SRM warning), its cumulative lift with the sequential band, and the sample-size
// calculator, and the uplift models' Qini and uplift curves. Everything comes from the page's JSON twin (/api/v1/pages/experiments) and the
// /api/v1/experiments endpoints; every string from the data reaches charts through plotText.
(function () {
  "use strict";
  const payload = JSON.parse(document.getElementById("page-data").textContent);
  const data = payload.data;
  const { formats, el, cell, fillRows, api, chartLayout, chartConfig, plotText, onRowActivate } = window.Dashboard;

  const pct = (v) => (v === null || v === undefined ? "—" : (v >= 0 ? "+" : "") + (v * 100).toFixed(2) + "%");
  const num = (v) => (v === null || v === undefined ? "—" : Number(v).toPrecision(4));
  const interval = (ci) => (ci ? "[" + pct(ci[0]) + ", " + pct(ci[1]) + "]" : "—");

  function drawIntervals(results) {
    const chart = document.getElementById("interval-chart");
    const rows = (results ? results.results : []).filter((r) => r.lift !== null && r.lift_ci);
    chart.dataset.points = String(rows.length);
    if (!window.Plotly) return;
    const labels = rows.map((r) => plotText(r.metric + " · " + r.variant));
    window.Plotly.react(chart, [{
      type: "scatter", mode: "markers", orientation: "h", name: "lift",
      x: rows.map((r) => r.lift * 100), y: labels,
      error_x: { type: "data", symmetric: false,
        array: rows.map((r) => (r.lift_ci[1] - r.lift) * 100), arrayminus: rows.map((r) => (r.lift - r.lift_ci[0]) * 100) },
      hovertext: rows.map((r) => plotText(r.metric + " " + r.variant + ": " + pct(r.lift) + " " + interval(r.lift_ci))),
      hoverinfo: "text",
    }], chartLayout({ margin: { l: 180, r: 16, t: 10, b: 40 }, height: 60 + 40 * rows.length,
      xaxis: { title: { text: "relative lift, % (95% interval)" }, zeroline: true },
      yaxis: { automargin: true } }), chartConfig);
  }

  function drawTimeline(points) {
    const chart = document.getElementById("timeline-chart");
    chart.dataset.points = String(points.length);
    if (!window.Plotly || !points.length) return;
    const variants = Array.from(new Set(points.map((p) => p.variant)));
    const traces = [];
    variants.forEach((v) => {
      const pts = points.filter((p) => p.variant === v && p.lift_ci);
      const xs = pts.map((p) => p.ts);
      traces.push({ x: xs.concat(xs.slice().reverse()),
        y: pts.map((p) => p.lift_ci[1] * 100).concat(pts.map((p) => p.lift_ci[0] * 100).reverse()),
        fill: "toself", line: { width: 0 }, fillcolor: "rgba(45,108,223,0.18)", hoverinfo: "skip",
        name: plotText(v + " sequential 95% band") });
      traces.push({ x: xs, y: pts.map((p) => p.lift * 100), mode: "lines+markers", name: plotText(v + " lift") });
    });
    window.Plotly.react(chart, traces, chartLayout({ margin: { l: 56, r: 16, t: 10, b: 40 },
      yaxis: { title: { text: "cumulative lift, %" }, zeroline: true } }), chartConfig);
  }

  // A recommender experiment: each variant's recommender, the model serving it and what served its impressions.
  function showArms(arms) {
    document.getElementById("arms-block").hidden = !arms;
    fillRows(document.querySelector("#arms tbody"), arms || [], (a, tr) => {
      tr.dataset.variant = a.variant;
      tr.dataset.state = a.state;
      const status = a.attempts ? a.state + " · " + a.attempts + " failed, next try " + (a.next_retry_at || "—") : a.state;
      return [cell(a.variant), cell(a.recommender), cell(status), cell(a.version || "—"),
        cell(a.trained_at || "—"), cell(formats.number(a.impressions), "num"),
        cell((a.served_versions || []).join(", ") || "—"), cell(a.last_error || "")];
    }, "Not a recommender experiment.", 8);
  }

  function showDetail(detail) {
    const results = detail.results;
    document.getElementById("results-title").textContent = "Results: " + detail.experiment.key;
    document.getElementById("results-meta").textContent = results
      ? "control " + results.control + " · SRM p-value " + num(results.srm_p) : "";
    document.getElementById("srm-warning").hidden = !(results && results.srm_warning);
    document.getElementById("results-message").textContent = detail.message || "";
    const tbody = document.querySelector("#results tbody");
    fillRows(tbody, results ? results.results : [], (r, tr) => {
      tr.dataset.metric = r.metric;
      tr.dataset.variant = r.variant;
      return [cell(r.metric), cell(r.variant), cell(formats.number(r.users), "num"),
        cell(num(r.mean), "num"), cell(num(r.control_mean), "num"), cell(pct(r.lift), "num"),
        cell(interval(r.lift_ci), "num"), cell(num(r.p_value), "num"),
        cell(r.chance_to_win === null ? "—" : (r.chance_to_win * 100).toFixed(1) + "%", "num")];
    }, detail.message || "No results yet.", 9);
    drawIntervals(results);
    drawTimeline(detail.timeline || []);
    showArms(detail.recommender_arms || null);
    document.getElementById("results-card").dataset.key = detail.experiment.key;
  }

  const list = document.getElementById("experiment-list");
  onRowActivate(list, async (event) => {
    const tr = event.target.closest("tr[data-key]");
    if (!tr) return;
    list.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
    tr.classList.add("selected");
    try {
      showDetail(await api("/api/v1/experiments/" + encodeURIComponent(tr.dataset.key) + "/page"));
    } catch (e) {
      document.getElementById("results-message").textContent = e.message;
    }
  });

  document.getElementById("power-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("power-result");
    const params = new URLSearchParams({
      mde: document.getElementById("power-mde").value, rate: document.getElementById("power-rate").value,
      alpha: document.getElementById("power-alpha").value, power: document.getElementById("power-power").value });
    try {
      const r = await api("/api/v1/experiments/power?" + params.toString());
      out.textContent = formats.number(r.users_per_variant) + " users per variant";
      out.dataset.users = String(r.users_per_variant);
    } catch (e) {
      out.textContent = e.message;
      delete out.dataset.users;
    }
  });

  // Uplift models: each model's cross-fitted curve against purchase propensity and random targeting.
  const STRATEGY = { propensity: "purchase propensity", random: "random" };
  function drawUplift() {
    const kind = document.getElementById("uplift-kind").value;
    document.querySelectorAll("#uplift-models figure.uplift-model").forEach((fig) => {
      const model = (data.uplift_models || [])[Number(fig.dataset.index)];
      const chart = fig.querySelector(".uplift-chart");
      if (!model) return;
      const curves = model[kind] || {};
      // The model first, then the baselines (the JSON's key order is not the drawing order).
      const first = [model.learner + "_learner", "propensity", "random"].filter((k) => k in curves);
      const names = first.concat(Object.keys(curves).filter((k) => !first.includes(k)));
      chart.dataset.kind = kind;
      chart.dataset.traces = String(names.length);
      if (!window.Plotly) return;
      const traces = names.map((name) => ({
        x: model.share.map((s) => s * 100), y: curves[name], mode: "lines",
        name: plotText(STRATEGY[name] || model.learner.toUpperCase() + "-learner uplift"),
        line: name === "random" ? { dash: "dash" } : {},
        hovertemplate: "%{x:.0f}% targeted: %{y:.1f}<extra>" + plotText(model.campaign + " · " + name) + "</extra>",
      }));
      window.Plotly.react(chart, traces, chartLayout({ margin: { l: 56, r: 16, t: 10, b: 40 },
        xaxis: { title: { text: "share of the campaign audience targeted, %" } },
        yaxis: { title: { text: kind === "qini" ? "extra buyers (Qini)" : "extra buyers if all targeted were sent (uplift)" }, zeroline: true } }), chartConfig);
    });
  }
  document.getElementById("uplift-kind").addEventListener("change", drawUplift);
  drawUplift();

  if (data.selected) showDetail(data.selected);
})();
