/* Logs: new executions stream in at the top while "Live" is on and the row matches the filters. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector("[data-executions]");
    const live = document.querySelector("[data-live-toggle]");
    if (!table || !live) return;
    let filters = {};
    try { filters = JSON.parse(table.dataset.filters || "{}"); } catch (e) { filters = {}; }
    const matches = (e) => {
      if (filters.job_id && filters.job_id !== e.cron_job_id) return false;
      if (filters.team_jobs && !filters.team_jobs.includes(e.cron_job_id)) return false; // the team filter's jobs
      if (filters.status && filters.status !== e.status) return false;
      if (filters.trigger && filters.trigger !== e.trigger) return false;
      if (filters.to) return false; // a closed date range never grows with new runs
      if (filters.q) {
        const q = filters.q.toLowerCase();
        const hay = `${e.job_name || ""} ${e.error_message || ""}`.toLowerCase();
        if (!hay.includes(q)) return false;
      }
      return true;
    };
    document.addEventListener("cm:event", (ev) => {
      const event = ev.detail;
      if (!live.checked || !event.type.startsWith("execution:")) return;
      const e = event.data;
      const present = table.querySelector(`tr[data-exec-id="${CSS.escape(String(e.id))}"]`);
      if (present || matches(e)) CM.upsertExecution(table, e, true);
    });
  });
})();
