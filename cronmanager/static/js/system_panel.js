/* Overview, administrators: refresh the system panel from /api/v1/system every few seconds. */
(function () {
  "use strict";
  const CM = window.CM;
  const PERIOD_MS = 5000;
  const panel = document.querySelector("[data-system-panel]");
  if (!panel || !CM) return;

  function set(name, html) {
    const el = panel.querySelector(`[data-sys="${name}"]`);
    if (el) el.innerHTML = html;
  }
  function ms(v) {
    if (v === null || v === undefined) return "—";
    return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`;
  }
  function probe(p) {
    return (p.ok ? "up" : "down") + (p.latency_ms !== null && p.latency_ms !== undefined ? ` · ${p.latency_ms} ms` : "");
  }
  function render(s) {
    const e = CM.esc;
    set("database", e(probe(s.database)));
    set("redis", e(probe(s.redis)));
    const beat = s.scheduler_heartbeat_age_s === null ? "no heartbeat"
      : `${s.scheduler_ok ? "ok" : "stale"} · beat ${s.scheduler_heartbeat_age_s} s ago`;
    set("scheduler", `${e(beat)}<div class="text-xs text-slate-500 break-all" data-sys="leader">leader ${e(s.scheduler_leader || "none")}</div>`);
    set("queue", `${e(s.queue_depth ?? "—")} waiting · ${e(s.delayed ?? "—")} delayed`);
    set("lag", `${e(ms(s.lag_p99_ms))} <span class="text-xs text-slate-500">(${e(s.lag_samples)} fires)</span>`);
    set("retention", e(s.last_retention ? s.last_retention.finished_at : "none yet"));
    set("workers", s.workers.length ? "<ul>" + s.workers.map((w) =>
      `<li class="text-xs"><code class="break-all">${e(w.identity)}</code> · ${e(w.in_flight)} in flight · beat ${e(w.heartbeat_age_s)} s ago</li>`).join("") + "</ul>"
      : "none alive");
  }
  async function refresh() {
    try {
      render(await CM.api("GET", "/api/v1/system"));
    } catch (err) {
      /* keep the last figures; the next tick tries again */
    }
  }
  setInterval(refresh, PERIOD_MS);
})();
