/* Jobs list: batch enable/disable/run/delete and live status badges. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector("[data-jobs-table]");
    const bar = document.querySelector("[data-batch-bar]");
    const boxes = () => Array.from(document.querySelectorAll("[data-select]"));
    const selected = () => boxes().filter((b) => b.checked).map((b) => b.value);
    const refresh = () => {
      if (!bar) return;
      const n = selected().length;
      bar.querySelector("[data-selected-count]").textContent = String(n);
      bar.querySelectorAll("[data-batch]").forEach((b) => { b.disabled = n === 0; });
    };
    const all = document.querySelector("[data-select-all]");
    if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); refresh(); });
    document.addEventListener("change", (ev) => { if (ev.target.matches("[data-select]")) refresh(); });

    if (bar) bar.addEventListener("click", async (ev) => {
      const button = ev.target.closest("[data-batch]");
      if (!button) return;
      const ids = selected();
      const kind = button.dataset.batch;
      if (!ids.length) return;
      if (kind === "delete") {
        const ok = await CM.confirm(`Delete ${ids.length} job${ids.length > 1 ? "s" : ""} and their execution history? This cannot be undone.`,
          { title: "Delete jobs", confirmLabel: `Delete ${ids.length}` });
        if (!ok) return;
      }
      CM.busy(button, true);
      if (kind === "delete") {  // one call, one audited cron.bulk_delete listing every id; all or nothing
        try {
          const result = await CM.api("POST", "/api/v1/cron/bulk-delete", { ids: ids });
          sessionStorage.setItem("cm:toast", `${result.count} job${result.count > 1 ? "s" : ""} deleted.`);
          window.location.reload();
        } catch (err) {
          CM.busy(button, false);
          CM.toast(`Nothing deleted: ${err.message}`, "error");
        }
        return;
      }
      const call = (id) => {
        const base = `/api/v1/cron/${encodeURIComponent(id)}`;
        if (kind === "enable") return CM.api("POST", `${base}/toggle`, { is_active: true });
        if (kind === "disable") return CM.api("POST", `${base}/toggle`, { is_active: false });
        return CM.api("POST", `${base}/execute`);
      };
      const results = await Promise.allSettled(ids.map(call));
      CM.busy(button, false);
      const failed = results.filter((r) => r.status === "rejected");
      const done = results.length - failed.length;
      const verb = { enable: "enabled", disable: "disabled", run: "queued to run" }[kind];
      if (done) sessionStorage.setItem("cm:toast", `${done} job${done > 1 ? "s" : ""} ${verb}.`);
      if (failed.length) CM.toast(`${failed.length} failed: ${failed[0].reason.message}`, "error");
      if (kind === "run") {
        if (done) CM.toast(sessionStorage.getItem("cm:toast"), "success");
        sessionStorage.removeItem("cm:toast");
        return;
      }
      window.location.reload();
    });

    document.addEventListener("cm:event", (ev) => {
      const event = ev.detail;
      if (!table) {
        if (event.type === "cron:created") document.querySelector("[data-new-jobs]")?.classList.remove("hidden");
        return;
      }
      if (event.type === "cron:created") {
        document.querySelector("[data-new-jobs]")?.classList.remove("hidden");
      } else if (event.type === "cron:deleted") {
        table.querySelector(`tr[data-job-id="${CSS.escape(event.data.id)}"]`)?.remove();
      } else if (event.type.startsWith("execution:")) {
        const e = event.data;
        const status = event.type === "execution:started" ? "RUNNING" : e.status;
        CM.applyJob({ id: e.cron_job_id, status: status, last_run_at: e.started_at || e.scheduled_for });
      }
    });
  });
})();
