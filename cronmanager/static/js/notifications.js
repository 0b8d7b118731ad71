/* Notifications centre: mark read (one / all) and a hint when new ones arrive. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("click", async (ev) => {
      const one = ev.target.closest("[data-mark-read]");
      if (one) {
        try {
          await CM.api("POST", `/api/v1/notifications/${encodeURIComponent(one.dataset.markRead)}/read`);
          const li = one.closest("li");
          li.classList.remove("bg-indigo-50/60");
          one.remove();
          CM.bumpUnread(-1);
        } catch (err) {
          CM.toast(err.message, "error");
        }
      }
      const all = ev.target.closest("[data-mark-all]");
      if (all) {
        try {
          const data = await CM.api("POST", "/api/v1/notifications/read-all");
          document.querySelectorAll("[data-mark-read]").forEach((b) => b.remove());
          document.querySelectorAll("[data-note-id]").forEach((li) => li.classList.remove("bg-indigo-50/60"));
          document.querySelectorAll("[data-unread-count]").forEach((el) => { el.textContent = "0"; el.classList.add("hidden"); });
          CM.toast(`${data.marked} marked as read.`, "success");
        } catch (err) {
          CM.toast(err.message, "error");
        }
      }
    });
    document.addEventListener("cm:event", (ev) => {
      if (ev.detail.type === "notification") document.querySelector("[data-new-notes]")?.classList.remove("hidden");
    });
  });
})();
