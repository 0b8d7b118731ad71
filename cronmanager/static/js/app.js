/* Cron Manager dashboard core: API calls with CSRF, toasts, confirm dialog, live events (SSE), shared actions.
   Plain JavaScript, no framework; loaded on every page under a nonce CSP (no inline handlers). */
(function () {
  "use strict";

  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const CM = (window.CM = {
    csrf: meta("csrf-token"),
    tz: meta("user-tz") || "UTC",
    role: meta("user-role"),
    userId: meta("user-id"),
  });

  CM.esc = function (value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  };

  /* JSON API call with the session cookie; throws Error with .status and .fields on failure. */
  CM.api = async function (method, url, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": CM.csrf } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(url, opts);
    let data = null;
    if (resp.status !== 204) {
      try { data = await resp.json(); } catch (e) { data = null; }
    }
    if (!resp.ok) {
      const err = new Error((data && data.error && data.error.message) || `Request failed (HTTP ${resp.status})`);
      err.status = resp.status;
      err.fields = (data && data.error && data.error.fields) || {};
      throw err;
    }
    return data;
  };

  /* ---- time in the viewer's zone ---- */
  const fmtCache = {};
  CM.fmt = function (iso, opts) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (isNaN(date)) return String(iso);
    const key = JSON.stringify(opts || {});
    if (!fmtCache[key]) {
      fmtCache[key] = new Intl.DateTimeFormat("sv-SE", Object.assign({
        timeZone: CM.tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
      }, opts || {}));
    }
    return fmtCache[key].format(date);
  };
  CM.duration = (ms) => (ms === null || ms === undefined ? "—" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
  CM.badge = (status) => `<span class="badge badge-${CM.esc(status)}" data-status-badge>${CM.esc(status)}</span>`;

  /* ---- toasts ---- */
  const TOAST = {
    info: "border-slate-200 bg-white text-slate-800",
    success: "border-green-200 bg-green-50 text-green-900",
    error: "border-red-200 bg-red-50 text-red-900",
    warning: "border-yellow-200 bg-yellow-50 text-yellow-900",
  };
  CM.toast = function (message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.className = `toast pointer-events-auto w-full max-w-sm rounded-md border px-4 py-3 text-sm shadow-lg ${TOAST[kind] || TOAST.info}`;
    el.textContent = message;
    box.appendChild(el);
    setTimeout(() => el.remove(), kind === "error" ? 8000 : 4500);
  };

  /* ---- confirm dialog (native <dialog>) ---- */
  CM.confirm = function (message, options) {
    const dialog = document.getElementById("confirm-dialog");
    const opts = options || {};
    if (!dialog || !dialog.showModal) return Promise.resolve(window.confirm(message));
    dialog.querySelector("[data-confirm-title]").textContent = opts.title || "Are you sure?";
    dialog.querySelector("[data-confirm-message]").textContent = message;
    const ok = dialog.querySelector("[data-confirm-ok]");
    ok.textContent = opts.confirmLabel || "Confirm";
    ok.className = `btn ${opts.danger === false ? "btn-primary" : "btn-danger"}`;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    });
  };

  CM.busy = function (button, on) {
    if (!button) return;
    if (on) {
      button.dataset.label = button.innerHTML;
      button.disabled = true;
      button.innerHTML = `<span class="spinner"></span>`;
    } else {
      button.disabled = false;
      if (button.dataset.label) button.innerHTML = button.dataset.label;
    }
  };

  /* ---- one execution row, same markup as the execution_row Jinja macro ---- */
  CM.executionRow = function (e, showJob) {
    const tr = document.createElement("tr");
    tr.dataset.execId = e.id;
    tr.dataset.jobId = e.cron_job_id;
    const attempt = e.attempt_number > 1 ? ` <span class="text-xs text-slate-500">(attempt ${CM.esc(e.attempt_number)})</span>` : "";
    const url = `/jobs/${encodeURIComponent(e.cron_job_id)}/executions/${encodeURIComponent(e.id)}?fragment=1`;
    tr.innerHTML =
      `<td class="hidden font-mono text-xs text-slate-500 sm:table-cell">#${CM.esc(e.id)}</td>` +
      (showJob ? `<td><a class="font-medium text-indigo-700 hover:underline" href="/jobs/${encodeURIComponent(e.cron_job_id)}">${CM.esc(e.job_name || e.cron_job_id)}</a></td>` : "") +
      `<td class="whitespace-nowrap" data-col="scheduled">${CM.esc(CM.fmt(e.scheduled_for))}</td>` +
      `<td data-col="trigger">${CM.esc(e.trigger)}${attempt}</td>` +
      `<td data-col="status">${CM.badge(e.status)}</td>` +
      `<td class="hidden sm:table-cell" data-col="http">${CM.esc(e.response_status || "—")}</td>` +
      `<td class="hidden whitespace-nowrap md:table-cell" data-col="duration">${CM.esc(CM.duration(e.execution_time_ms))}</td>` +
      `<td class="hidden max-w-xs truncate text-xs text-red-700 lg:table-cell" data-col="error" title="${CM.esc(e.error_message || "")}">${CM.esc(e.error_message || "")}</td>` +
      `<td><button type="button" class="btn btn-sm" data-action="view-execution" data-url="${CM.esc(url)}">View</button></td>`;
    return tr;
  };

  /* Insert or update a row in an executions table; returns the row. */
  CM.upsertExecution = function (table, e, showJob) {
    const tbody = table.querySelector("tbody");
    const existing = tbody.querySelector(`tr[data-exec-id="${CSS.escape(String(e.id))}"]`);
    const row = CM.executionRow(e, showJob);
    if (existing) {
      existing.replaceWith(row);
    } else {
      tbody.prepend(row);
      const rows = tbody.querySelectorAll("tr");
      if (rows.length > 100) rows[rows.length - 1].remove();
    }
    row.classList.add("flash-row");
    const empty = table.closest(".card") && table.closest(".card").querySelector("[data-executions-empty]");
    if (empty) empty.classList.add("hidden");
    return row;
  };

  /* ---- live events: one EventSource per page, re-dispatched as "cm:event" on document ---- */
  CM.connectEvents = function () {
    if (!window.EventSource || !CM.userId) return;
    const dot = document.querySelector("[data-live-dot]");
    const text = document.querySelector("[data-live-text]");
    const state = (ok, label) => {
      if (dot) dot.className = `inline-block h-2 w-2 rounded-full ${ok ? "bg-green-400" : "bg-yellow-400"}`;
      if (text) text.textContent = label;
      document.body.dataset.live = ok ? "connected" : "reconnecting";
    };
    const source = new EventSource("/api/v1/events");
    const types = ["cron:created", "cron:updated", "cron:deleted", "execution:started", "execution:completed",
      "execution:failed", "schedule:changed", "notification", "incident:opened", "incident:resolved"];
    types.forEach((type) => source.addEventListener(type, (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      document.dispatchEvent(new CustomEvent("cm:event", { detail: event }));
    }));
    source.addEventListener("open", () => state(true, "Live"));
    source.addEventListener("error", () => state(false, "Reconnecting…"));
    window.addEventListener("pagehide", () => source.close());
    CM.events = source;
  };

  /* ---- shared job actions: run / toggle / delete / view execution ---- */
  async function onAction(button) {
    const action = button.dataset.action;
    const jobId = button.dataset.jobId;
    if (action === "view-execution") {
      const dialog = document.getElementById("execution-dialog");
      const body = dialog.querySelector("[data-execution-body]");
      body.innerHTML = `<span class="spinner"></span>`;
      dialog.showModal();
      try {
        const resp = await fetch(button.dataset.url, { credentials: "same-origin" });
        if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
        body.innerHTML = await resp.text();
      } catch (err) {
        body.textContent = `Could not load the execution: ${err.message}`;
      }
      return;
    }
    if (action === "run") {
      CM.busy(button, true);
      try {
        const data = await CM.api("POST", `/api/v1/cron/${encodeURIComponent(jobId)}/execute`);
        CM.toast(`Run queued (execution #${data.execution_id}).`, "success");
      } catch (err) {
        CM.toast(err.message, "error");
      } finally {
        CM.busy(button, false);
      }
    } else if (action === "toggle") {
      const enable = button.dataset.active !== "true";
      CM.busy(button, true);
      try {
        const job = await CM.api("POST", `/api/v1/cron/${encodeURIComponent(jobId)}/toggle`, { is_active: enable });
        CM.busy(button, false);
        CM.applyJob(job);
        CM.toast(job.is_active ? `“${job.name}” enabled.` : `“${job.name}” disabled.`, "success");
      } catch (err) {
        CM.busy(button, false);
        CM.toast(err.message, "error");
      }
    } else if (action === "delete") {
      const name = button.dataset.jobName || "this job";
      const ok = await CM.confirm(`Delete “${name}” and its whole execution history? This cannot be undone.`,
        { title: "Delete job", confirmLabel: "Delete" });
      if (!ok) return;
      CM.busy(button, true);
      try {
        await CM.api("DELETE", `/api/v1/cron/${encodeURIComponent(jobId)}`);
        if (button.dataset.redirect) {
          sessionStorage.setItem("cm:toast", `“${name}” deleted.`);
          window.location.assign(button.dataset.redirect);
          return;
        }
        const row = button.closest("tr");
        if (row) row.remove();
        CM.toast(`“${name}” deleted.`, "success");
      } catch (err) {
        CM.busy(button, false);
        CM.toast(err.message, "error");
      }
    }
  }

  /* Reflect a job's state (from the API or a cron:updated event) everywhere it is shown on the page. */
  CM.applyJob = function (job) {
    const hasActive = typeof job.is_active === "boolean";
    document.querySelectorAll(`[data-job-id="${CSS.escape(job.id)}"]`).forEach((el) => {
      if (!hasActive) {
        // execution events carry only status and times
      } else if (el.dataset.action === "toggle") {
        el.dataset.active = job.is_active ? "true" : "false";
        el.textContent = job.is_active ? "Disable" : "Enable";
      }
      if (el.matches("tr, [data-job-header]")) {
        if (hasActive) el.dataset.active = job.is_active ? "true" : "false";
        if (hasActive) el.querySelectorAll("[data-active-badge]").forEach((active) => {
          active.className = `badge ${job.is_active ? "badge-on" : "badge-off"}`;
          active.textContent = job.is_active ? "Enabled" : "Disabled";
        });
        if (job.status) el.querySelectorAll("[data-status-badge]").forEach((status) => {
          status.className = `badge badge-${job.status}`;
          status.textContent = job.status;
        });
        const next = el.querySelector("[data-col='next-run']");
        if (next && hasActive && "next_run_at" in job) next.textContent = job.is_active && job.next_run_at ? CM.fmt(job.next_run_at) : "—";
        const last = el.querySelector("[data-col='last-run']");
        if (last && job.last_run_at) last.textContent = CM.fmt(job.last_run_at);
      }
    });
  };

  function bumpUnread(delta) {
    document.querySelectorAll("[data-unread-count]").forEach((el) => {
      const n = Math.max(0, (parseInt(el.textContent, 10) || 0) + delta);
      el.textContent = String(n);
      el.classList.toggle("hidden", n === 0);
    });
  }
  CM.bumpUnread = bumpUnread;

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".flash-msg").forEach((el) => {
      CM.toast(el.textContent, el.dataset.kind === "message" ? "info" : el.dataset.kind);
      el.remove();
    });
    const pending = sessionStorage.getItem("cm:toast");
    if (pending) {
      sessionStorage.removeItem("cm:toast");
      CM.toast(pending, "success");
    }

    const sidebar = document.querySelector("[data-sidebar]");
    const backdrop = document.querySelector("[data-sidebar-backdrop]");
    const toggle = document.querySelector("[data-nav-toggle]");
    const setNav = (open) => {
      if (!sidebar) return;
      sidebar.classList.toggle("hidden", !open);
      sidebar.classList.toggle("flex", open);
      if (backdrop) backdrop.classList.toggle("hidden", !open);
      if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    if (toggle) toggle.addEventListener("click", () => setNav(sidebar.classList.contains("hidden")));
    if (backdrop) backdrop.addEventListener("click", () => setNav(false));

    document.addEventListener("click", (ev) => {
      const menu = document.querySelector("[data-user-menu]");
      if (menu && menu.open && !menu.contains(ev.target)) menu.open = false;
      const button = ev.target.closest("[data-action]");
      if (button) {
        ev.preventDefault();
        onAction(button);
      }
    });

    document.addEventListener("cm:event", (ev) => {
      const event = ev.detail;
      if (event.type === "notification") {
        bumpUnread(1);
        CM.toast(event.data.title || "New notification", "warning");
      } else if (event.type === "cron:updated") {
        CM.applyJob(event.data);
      }
    });

    if (document.body.dataset.page && document.body.dataset.page !== "login") CM.connectEvents();
  });
})();
