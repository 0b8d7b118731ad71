/* Overview: trend chart from /api/v1/stats (Chart.js), live timeline and today's counters. */
(function () {
  "use strict";
  const CM = window.CM;
  let chart = null;
  let stats = null;

  function labels(series, range) {
    return series.map((b) => CM.fmt(b.start, range === "hourly"
      ? { year: undefined, month: undefined, day: undefined, second: undefined, hour: "2-digit", minute: "2-digit" }
      : { hour: undefined, minute: undefined, second: undefined, year: undefined, month: "2-digit", day: "2-digit" }));
  }

  function draw(range) {
    const canvas = document.getElementById("trend-chart");
    const message = document.querySelector("[data-chart-message]");
    if (!canvas || !stats || !window.Chart) return;
    const series = (stats.series && stats.series[range]) || [];
    const data = {
      labels: labels(series, range),
      datasets: [
        { label: "Success", data: series.map((b) => b.success), backgroundColor: "#22c55e", stack: "runs" },
        { label: "Failed", data: series.map((b) => b.failed), backgroundColor: "#ef4444", stack: "runs" },
        { label: "Other", data: series.map((b) => b.other || 0), backgroundColor: "#cbd5e1", stack: "runs" },
      ],
    };
    if (chart) {
      chart.data = data;
      chart.update();
    } else {
      chart = new window.Chart(canvas, {
        type: "bar",
        data: data,
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { position: "bottom" } },
        },
      });
    }
    if (message) message.classList.add("hidden");
    document.querySelectorAll("[data-range]").forEach((b) => b.setAttribute("aria-pressed", b.dataset.range === range ? "true" : "false"));
  }

  async function load() {
    const message = document.querySelector("[data-chart-message]");
    try {
      stats = await CM.api("GET", `/api/v1/stats?tz=${encodeURIComponent(CM.tz)}`);
      draw(document.querySelector("[data-range][aria-pressed='true']")?.dataset.range || "hourly");
      document.body.dataset.chart = "ready";
    } catch (err) {
      if (message) {
        message.textContent = `The trend chart is unavailable (${err.message}).`;
        message.classList.remove("hidden");
      }
      document.body.dataset.chart = "unavailable";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    load();
    document.querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => draw(b.dataset.range)));
    const timeline = document.querySelector("[data-timeline]");
    let reloadTimer = null;
    document.addEventListener("cm:event", (ev) => {
      const event = ev.detail;
      if (!event.type.startsWith("execution:")) return;
      const e = event.data;
      if (timeline) {
        const li = document.createElement("li");
        li.className = "flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm flash-row";
        li.dataset.execId = e.id;
        li.innerHTML = `${CM.badge(e.status)}<a class="min-w-0 flex-1 truncate font-medium text-indigo-700 hover:underline" href="/jobs/${encodeURIComponent(e.cron_job_id)}">${CM.esc(e.job_name || e.cron_job_id)}</a>` +
          `<span class="text-xs text-slate-500">${CM.esc(e.trigger)}</span><span class="text-xs whitespace-nowrap text-slate-500">${CM.esc(CM.fmt(e.scheduled_for))}</span>`;
        const old = timeline.querySelector(`li[data-exec-id="${CSS.escape(String(e.id))}"]`);
        if (old) old.replaceWith(li); else timeline.prepend(li);
        while (timeline.children.length > 15) timeline.lastElementChild.remove();
        document.querySelector("[data-empty]")?.remove();
      }
      if (event.type !== "execution:started") {
        const cell = document.querySelector(`[data-today="${e.status}"]`);
        if (cell) cell.textContent = String((parseInt(cell.textContent, 10) || 0) + 1);
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(load, 5000);
      }
    });
  });
})();
