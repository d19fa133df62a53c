// Campaigns page. The broadcasts table is rendered from the page's JSON twin
// (/api/v1/pages/campaigns); the journeys table and each journey's diagram (an SVG built here,
// every data string set through textContent) come from its `journeys` key and are refreshed
// every few seconds. The editor checks a journey file through /api/v1/journeys/validate and
// saves it with PUT /api/v1/journeys/{name}; the preview form renders a template for one
// customer through /api/v1/campaigns/preview.
(function () {
  "use strict";
  const { api, el, cell, fillRows, formats } = window.Dashboard;
  const SVG = "http://www.w3.org/2000/svg";
  const REFRESH_MS = 5000;
  const payload = JSON.parse(document.getElementById("page-data").textContent);

  // -- message preview ------------------------------------------------------------------------
  const form = document.getElementById("preview-form");
  const status = document.getElementById("preview-status");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const template = document.getElementById("preview-template").value;
    const user = document.getElementById("preview-user").value.trim();
    if (!user) { status.textContent = "Enter a customer's user id."; return; }
    status.textContent = "Rendering…";
    try {
      const params = new URLSearchParams({ template, user_id: user });
      const r = await api("/api/v1/campaigns/preview?" + params.toString());
      document.getElementById("preview-subject").textContent = r.subject;
      document.getElementById("preview-html").srcdoc = r.html;
      document.getElementById("preview-text").textContent = r.text;
      status.textContent = "Preview of " + r.template + " for " + r.user_id + ".";
    } catch (err) {
      status.textContent = err.message;
    }
  });

  // A send step's template, chosen in the preview form (the customer is typed there).
  function previewTemplate(template) {
    document.getElementById("preview-template").value = template;
    document.getElementById("preview-card").scrollIntoView({ block: "start" });
    document.getElementById("preview-user").focus();
  }

  // -- journeys: totals ------------------------------------------------------------------------
  function walk(steps, visit) {
    steps.forEach((s) => { visit(s); (s.branches || []).forEach((b) => walk(b.steps, visit)); });
  }

  function totals(j) {
    const out = { sent: 0, skipped: {}, conversions: 0, revenue: 0 };
    walk(j.steps, (s) => {
      if (s.kind !== "send") return;
      out.sent += s.counts.sent;
      Object.entries(s.counts.skipped).forEach(([k, n]) => { out.skipped[k] = (out.skipped[k] || 0) + n; });
      out.conversions += s.measured.conversions;
      out.revenue += s.measured.revenue;
    });
    return out;
  }

  const skippedText = (skipped) => Object.entries(skipped).map(([k, n]) => k + " " + formats.number(n)).join(", ") || "—";

  function triggerText(t) {
    return t.kind + ": " + t.value + (t.where ? " where " + t.where : "");
  }

  function renderTable(journeys) {
    const tbody = document.querySelector("#journeys tbody");
    fillRows(tbody, journeys, (j, tr) => {
      tr.dataset.journey = j.journey;
      const t = totals(j);
      const num = (field, v) => { const c = cell(formats.number(v), "num"); c.dataset.field = field; return c; };
      const skipped = cell(skippedText(t.skipped));
      skipped.dataset.field = "skipped";
      const revenue = cell(formats.money(t.revenue), "num");
      revenue.dataset.field = "revenue";
      return [
        cell(j.journey + (j.active ? "" : " (inactive)")),
        num("version", j.version),
        cell(triggerText(j.trigger)),
        num("entered", j.entered),
        num("waiting", j.runs.waiting + j.runs.active),
        num("done", j.runs.done),
        num("exited", j.runs.exited),
        num("sent", t.sent),
        skipped,
        num("conversions", t.conversions),
        revenue,
      ];
    }, "No journeys yet: apply one with `cartwise journeys apply abandoned-cart` or the editor below.", 11);
    const note = document.getElementById("journeys-note");
    const stuck = journeys.some((j) => {
      let found = false;
      walk(j.steps, (s) => { if (s.counts.skipped.failed_temporary || s.counts.skipped.pending) found = true; });
      return found;
    });
    note.textContent = stuck
      ? "Some messages are pending or failed for now (the SMTP server did not take them, or quiet hours hold them); they are retried, never sent twice."
      : "";
  }

  // -- journeys: diagrams ----------------------------------------------------------------------
  const BOX_W = 230, LINE_H = 15, PAD = 8, GAP_Y = 22, GAP_X = 24, LABEL_H = 16;

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const units = [["w", 604800], ["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
    for (const [u, n] of units) if (seconds % n === 0) return seconds / n + u;
    return seconds + "s";
  }

  function stepTitle(s) {
    switch (s.kind) {
      case "wait": return s.until ? "wait until " + s.until + " (local)" : "wait " + duration(s.seconds);
      case "wait_for": return "wait for " + s.event + " (up to " + duration(s.timeout) + ")";
      case "branch": return "branch if " + s.if;
      case "split": return "split";
      case "send": return "send " + s.template + " (" + s.channel + ")";
      default: return s.kind;
    }
  }

  // [field, text] lines shown under a step's title.
  function stepLines(s) {
    const c = s.counts;
    const lines = [["entered", "entered " + formats.number(c.entered) + " · waiting " + formats.number(c.waiting)]];
    if (s.kind === "send") {
      lines.push(["sent", "sent " + formats.number(c.sent)]);
      const reasons = Object.keys(c.skipped);
      lines.push(["skipped", "skipped " + (reasons.length ? skippedText(c.skipped) : "0")]);
      lines.push(["conversions", "conversions " + formats.number(s.measured.conversions) + " · revenue " + formats.money(s.measured.revenue)]);
    }
    lines.push(["exited", "exited " + formats.number(c.exited)]);
    return lines;
  }

  const boxHeight = (s) => PAD * 2 + LINE_H * (1 + stepLines(s).length);

  // Sizes of a list of steps laid out top to bottom, a fork's branches side by side.
  function measure(steps) {
    let width = BOX_W, height = 0;
    steps.forEach((s, i) => {
      const m = measureStep(s);
      width = Math.max(width, m.width);
      height += m.height + (i ? GAP_Y : 0);
    });
    return { width, height };
  }

  function measureStep(s) {
    const h = boxHeight(s);
    if (!s.branches) return { width: BOX_W, height: h };
    const cols = s.branches.map((b) => measure(b.steps.length ? b.steps : [])).map((m) => ({ width: Math.max(m.width, BOX_W * 0.6), height: m.height }));
    const width = Math.max(BOX_W, cols.reduce((a, c) => a + c.width, 0) + GAP_X * (cols.length - 1));
    const height = h + GAP_Y + LABEL_H + Math.max(...cols.map((c) => c.height)) + GAP_Y / 2;
    return { width, height, cols };
  }

  function svgNode(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, String(v)));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function edge(svg, x1, y1, x2, y2) {
    svg.appendChild(svgNode("path", { class: "edge", d: `M${x1},${y1} L${x1},${(y1 + y2) / 2} L${x2},${(y1 + y2) / 2} L${x2},${y2}`, "marker-end": "url(#arrow)" }));
  }

  // Draws `steps` in the column [x, x + width) from y; returns the bottom-centre points that
  // flow on to what follows (a fork's branches rejoin below it).
  function drawSteps(svg, steps, x, width, y, from) {
    let ends = from;
    steps.forEach((s) => {
      const m = measureStep(s);
      const cx = x + width / 2;
      ends.forEach(([ex, ey]) => edge(svg, ex, ey, cx, y));
      const h = boxHeight(s);
      const g = svgNode("g", { class: "step", "data-path": s.path, "data-kind": s.kind });
      const kindClass = s.kind === "send" ? "send" : s.kind === "exit" ? "exit" : s.branches ? "fork" : "";
      g.appendChild(svgNode("rect", { class: "box " + kindClass, x: cx - BOX_W / 2, y, width: BOX_W, height: h, rx: 6 }));
      const tip = Object.entries(s.outcomes).map(([k, n]) => k + ": " + n).join("\n");
      g.appendChild(svgNode("title", {}, "step " + s.path + " (line " + s.line + ")" + (tip ? "\n" + tip : "")));
      g.appendChild(svgNode("text", { class: "title", x: cx - BOX_W / 2 + PAD, y: y + PAD + LINE_H - 3 }, stepTitle(s)));
      stepLines(s).forEach(([field, text], i) => {
        g.appendChild(svgNode("text", { class: "line", "data-field": field, x: cx - BOX_W / 2 + PAD, y: y + PAD + LINE_H * (i + 2) - 3 }, text));
      });
      if (s.kind === "send") {
        g.setAttribute("tabindex", "0");
        g.setAttribute("role", "button");
        g.setAttribute("aria-label", "Preview " + s.template);
        g.addEventListener("click", () => previewTemplate(s.template));
        g.addEventListener("keydown", (e) => { if (e.key === "Enter") previewTemplate(s.template); });
      }
      svg.appendChild(g);
      const bottom = y + h;
      if (s.kind === "exit") {
        ends = [];
      } else if (s.branches) {
        let colX = x + (width - (m.cols.reduce((a, c) => a + c.width, 0) + GAP_X * (m.cols.length - 1))) / 2;
        const top = bottom + GAP_Y + LABEL_H;
        const joined = [];
        s.branches.forEach((b, i) => {
          const col = m.cols[i];
          const ccx = colX + col.width / 2;
          svg.appendChild(svgNode("text", { class: "fork-label", x: ccx, y: top - 4, "text-anchor": "middle" }, b.label));
          if (b.steps.length) {
            joined.push(...drawSteps(svg, b.steps, colX, col.width, top, [[cx, bottom]]));
          } else {
            edge(svg, cx, bottom, ccx, top);
            joined.push([ccx, top]);
          }
          colX += col.width + GAP_X;
        });
        // A wait_for's event path goes straight on, beside the timeout branch.
        if (s.kind === "wait_for") joined.push([cx, bottom]);
        ends = joined;
      } else {
        ends = [[cx, bottom]];
      }
      y += m.height + GAP_Y;
    });
    return ends;
  }

  function interval(x, scale, suffix) {
    if (!x || x.estimate === null) return "—";
    const f = (v) => (v * scale).toFixed(2);
    return f(x.estimate) + suffix + " [" + f(x.low) + ", " + f(x.high) + "]";
  }

  function splitTable(step) {
    const table = el("table", null, "data");
    table.dataset.split = step.path;
    const head = el("tr");
    ["Variant", "Customers", "Conversions", "Rate", "Revenue / customer", "Δ rate vs first (95%)", "Δ revenue / customer vs first (95%)"]
      .forEach((h) => head.appendChild(el("th", h)));
    const thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    const tbody = el("tbody");
    table.appendChild(tbody);
    fillRows(tbody, step.variants, (v, tr) => {
      tr.dataset.variant = v.variant;
      return [
        cell(v.variant),
        cell(formats.number(v.customers), "num"),
        cell(formats.number(v.conversions), "num"),
        cell(formats.percent(v.conversion_rate), "num"),
        cell(formats.money(v.revenue_per_customer), "num"),
        cell(v.vs_first ? interval(v.vs_first.conversion_rate, 100, " pp") : "baseline", "num"),
        cell(v.vs_first ? interval(v.vs_first.revenue_per_customer, 1, "") : "baseline", "num"),
      ];
    }, "No customer has reached this split yet.", 7);
    return table;
  }

  function renderDiagrams(journeys) {
    const holder = document.getElementById("journey-diagrams");
    holder.replaceChildren();
    journeys.forEach((j) => {
      const box = el("div", null, "journey-diagram");
      box.dataset.journey = j.journey;
      box.appendChild(el("h3", j.journey + " v" + j.version + " · " + triggerText(j.trigger) +
        (j.exit_on.length ? " · exits on " + j.exit_on.join(", ") : "")));
      const m = measure(j.steps);
      const width = m.width + 20, height = m.height + 20 + GAP_Y;
      const svg = svgNode("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Journey " + j.journey });
      const defs = svgNode("defs");
      const marker = svgNode("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
      marker.appendChild(svgNode("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa3b5" }));
      defs.appendChild(marker);
      svg.appendChild(defs);
      const entry = svgNode("text", { class: "line", x: 10 + m.width / 2, y: 14, "text-anchor": "middle", "data-field": "entry" },
        "entered " + formats.number(j.entered));
      svg.appendChild(entry);
      drawSteps(svg, j.steps, 10, m.width, GAP_Y + 4, [[10 + m.width / 2, 18]]);
      box.appendChild(svg);
      walk(j.steps, (s) => { if (s.kind === "split") box.appendChild(splitTable(s)); });
      holder.appendChild(box);
    });
  }

  let journeys = payload.data.journeys || [];
  function render() {
    renderTable(journeys);
    renderDiagrams(journeys);
    const select = document.getElementById("journey-load");
    const chosen = select.value;
    select.replaceChildren(el("option", "a journey…"));
    select.firstChild.value = "";
    journeys.forEach((j) => { const o = el("option", j.journey); o.value = j.journey; select.appendChild(o); });
    select.value = chosen;
  }
  render();

  async function refresh() {
    if (document.hidden) return;
    try {
      const r = await api("/api/v1/pages/campaigns");
      journeys = r.data.journeys || [];
      render();
    } catch (err) { /* the next round tries again */ }
  }
  window.setInterval(refresh, REFRESH_MS);

  // -- the editor ------------------------------------------------------------------------------
  const text = document.getElementById("journey-yaml");
  const editorStatus = document.getElementById("journey-status");
  const errors = document.getElementById("journey-errors");

  document.getElementById("journey-load").addEventListener("change", (e) => {
    const j = journeys.find((x) => x.journey === e.target.value);
    if (j) text.value = j.definition;
  });

  // The refusal's line (messages read "line N: ..."), selected in the textarea.
  function showError(message) {
    errors.replaceChildren();
    const match = /line (\d+)/.exec(message);
    const item = el("li", message);
    if (match) {
      item.dataset.line = match[1];
      const lines = text.value.split("\n");
      const n = Math.min(Number(match[1]), lines.length) - 1;
      const start = lines.slice(0, n).reduce((a, l) => a + l.length + 1, 0);
      text.focus();
      text.setSelectionRange(start, start + (lines[n] || "").length);
    }
    errors.appendChild(item);
  }

  async function send(path, method) {
    errors.replaceChildren();
    if (!text.value.trim()) { editorStatus.textContent = "Write or load a journey first."; return null; }
    try {
      return await api(path, { method, body: text.value });
    } catch (err) {
      editorStatus.textContent = err.status === 403 ? "Applying a journey needs an admin key." : "Refused.";
      if (err.status !== 403) showError(err.message);
      return null;
    }
  }

  document.getElementById("journey-validate").addEventListener("click", async () => {
    editorStatus.textContent = "Checking…";
    const r = await send("/api/v1/journeys/validate", "POST");
    if (r) editorStatus.textContent = "Journey " + r.journey + " is valid.";
  });

  document.getElementById("journey-apply").addEventListener("click", async () => {
    editorStatus.textContent = "Checking…";
    const checked = await send("/api/v1/journeys/validate", "POST");
    if (!checked) return;
    editorStatus.textContent = "Applying…";
    const r = await send("/api/v1/journeys/" + encodeURIComponent(checked.journey), "PUT");
    if (!r) return;
    editorStatus.textContent = "Journey " + r.journey + ": version " + r.version + (r.changed ? " saved." : " (unchanged).");
    refresh();
  });
})();
