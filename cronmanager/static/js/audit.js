/* Audit page: "Mark reviewed" on a security event, through the API. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector("[data-security-table]");
    if (!table) return;
    table.addEventListener("click", async (ev) => {
      const button = ev.target.closest("[data-review-event]");
      if (!button) return;
      CM.busy(button, true);
      try {
        const event = await CM.api("POST", `/api/v1/audit/security-events/${encodeURIComponent(button.dataset.reviewEvent)}/review`);
        button.closest("[data-reviewed]").textContent = CM.fmt(event.reviewed_at).slice(0, 16);
        CM.toast("Marked reviewed.", "success");
      } catch (err) {
        CM.busy(button, false);
        CM.toast(err.message, "error");
      }
    });
  });
})();
