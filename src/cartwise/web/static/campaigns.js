// Campaigns page: the table is rendered from the page's JSON twin (/api/v1/pages/campaigns);
// the preview form renders a template for one customer through /api/v1/campaigns/preview.
(function () {
  "use strict";
  const { api } = window.Dashboard;
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
})();
