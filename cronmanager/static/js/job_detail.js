/* Job detail: executions arrive and update live; the job's badges follow its events. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector("[data-executions]");
    const header = document.querySelector("[data-job-header]");
    if (!table || !header) return;
    const jobId = header.dataset.jobId;
    const filtered = table.dataset.filtered === "true";

    document.addEventListener("cm:event", (ev) => {
      const event = ev.detail;
      if (event.type.startsWith("execution:") && event.data.cron_job_id === jobId) {
        const e = event.data;
        if (!filtered || table.querySelector(`tr[data-exec-id="${CSS.escape(String(e.id))}"]`)) {
          CM.upsertExecution(table, e, false);
        }
        const status = event.type === "execution:started" ? "RUNNING" : e.status;
        CM.applyJob({ id: jobId, status: status, last_run_at: e.started_at || e.scheduled_for });
      } else if (event.type === "cron:deleted" && event.data.id === jobId) {
        CM.toast("This job was deleted.", "warning");
        document.querySelector("[data-job-actions]")?.remove();
      } else if (event.type === "schedule:changed" && event.data.id === jobId) {
        CM.toast("The schedule changed; reload to see the new history.", "info");
      }
    });
  });
})();
