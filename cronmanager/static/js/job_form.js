/* Job form: presets, live English description + next 5 runs, header/query editors, test execution. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-job-form]");
    if (!form) return;
    const expr = form.querySelector("[data-cron-input]");
    const tz = form.querySelector("[data-tz-input]");
    const preview = form.querySelector("[data-preview]");
    const text = preview.querySelector("[data-preview-text]");
    const error = preview.querySelector("[data-preview-error]");
    const fires = preview.querySelector("[data-preview-fires]");
    const excluded = preview.querySelector("[data-preview-excluded]");
    let timer = null;
    let seq = 0;

    async function updatePreview() {
      const value = expr.value.trim();
      const mine = ++seq;
      if (!value) {
        text.textContent = "Type a cron expression or pick a preset; leave it empty for a job that only runs after other jobs.";
        fires.innerHTML = "";
        error.classList.add("hidden");
        preview.dataset.state = "empty";
        return;
      }
      preview.dataset.state = "loading";
      const params = new URLSearchParams({ expression: value, timezone: tz.value || "UTC", count: "5" });
      // the effective schedule: every Nth slot from now, each fire moved by the offset
      for (const name of ["throttle_factor", "spread_offset_s"]) {
        const input = form.querySelector(`[name="${name}"]`);
        if (input && /^\d+$/.test(input.value.trim())) params.set(name, input.value.trim());
      }
      // the calendar: excluded fires are listed with why
      for (const name of ["calendar_id", "calendar_policy"]) {
        const input = form.querySelector(`[name="${name}"]`);
        if (input && input.value && (name === "calendar_id" || params.has("calendar_id"))) params.set(name, input.value);
      }
      try {
        const data = await CM.api("GET", `/api/v1/cron/preview?${params}`);
        if (mine !== seq) return;
        text.textContent = data.description;
        error.classList.add("hidden");
        expr.classList.remove("input-error");
        fires.innerHTML = data.fires.map((f) => {
          const local = f.local.replace("T", " ").replace(/\.\d+/, "");
          return `<li>${CM.esc(local)}${tz.value !== CM.tz ? ` <span class="text-slate-500">(${CM.esc(CM.fmt(f.utc))} ${CM.esc(CM.tz)})</span>` : ""}</li>`;
        }).join("");
        if (excluded) {
          excluded.innerHTML = (data.excluded || []).map((e) => {
            const local = e.local.replace("T", " ").replace(/\.\d+/, "");
            const moved = e.runs_at ? `; runs at ${CM.esc(CM.fmt(e.runs_at))} ${CM.esc(CM.tz)}` : "";
            return `<li data-excluded><span class="font-mono">${CM.esc(local)}</span> ${CM.esc(e.reason)}${moved}</li>`;
          }).join("");
        }
        preview.dataset.state = "ok";
      } catch (err) {
        if (mine !== seq) return;
        text.textContent = "Not a valid schedule yet.";
        error.textContent = Object.values(err.fields || {})[0] || err.message;
        error.classList.remove("hidden");
        expr.classList.add("input-error");
        fires.innerHTML = "";
        preview.dataset.state = "error";
      }
    }
    const schedule = () => { clearTimeout(timer); timer = setTimeout(updatePreview, 300); };
    expr.addEventListener("input", schedule);
    tz.addEventListener("change", updatePreview);
    form.querySelectorAll('[name="throttle_factor"], [name="spread_offset_s"]').forEach((i) => i.addEventListener("input", schedule));
    form.querySelectorAll('[name="calendar_id"], [name="calendar_policy"]').forEach((i) => i.addEventListener("change", updatePreview));
    form.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => {
      expr.value = b.dataset.preset;
      updatePreview();
      expr.focus();
    }));
    updatePreview();

    /* key/value editors */
    form.querySelectorAll("[data-kv]").forEach((editor) => {
      const rows = editor.querySelector("[data-kv-rows]");
      const template = editor.querySelector("[data-kv-template]");
      editor.querySelector("[data-kv-add]").addEventListener("click", () => {
        rows.appendChild(template.content.cloneNode(true));
        rows.lastElementChild.querySelector("input").focus();
      });
      editor.addEventListener("click", (ev) => {
        const remove = ev.target.closest("[data-kv-remove]");
        if (!remove) return;
        const row = remove.closest("[data-kv-row]");
        if (rows.children.length > 1) row.remove();
        else row.querySelectorAll("input").forEach((i) => { i.value = ""; });
      });
    });

    const pairs = (kind) => {
      const out = {};
      form.querySelectorAll(`[data-kv="${kind}"] [data-kv-row]`).forEach((row) => {
        const [k, v] = row.querySelectorAll("input");
        if (k.value.trim()) out[k.value.trim()] = v.value;
      });
      return out;
    };

    /* test execution of the unsaved configuration */
    const testButton = form.querySelector("[data-test-run]");
    const spinner = form.querySelector("[data-test-spinner]");
    const result = form.querySelector("[data-test-result]");
    testButton.addEventListener("click", async () => {
      const value = (name) => (form.elements[name] ? form.elements[name].value : "");
      const payload = {
        endpoint_url: value("endpoint_url").trim(),
        http_method: value("http_method"),
        headers: pairs("header"),
        query_params: pairs("param"),
        timeout_ms: Math.max(100, Math.min(300000, (parseInt(value("timeout_s"), 10) || 30) * 1000)),
      };
      if (value("body")) payload.body = value("body");
      const statuses = value("expected_statuses").split(/[\s,;]+/).filter(Boolean);
      if (statuses.length && statuses.every((s) => /^\d+$/.test(s))) payload.expected_statuses = statuses.map(Number);
      const checks = value("assertions").trim();  // response assertions (job_assertions.js keeps this JSON)
      if (checks) { try { payload.assertions = JSON.parse(checks); } catch (e) { /* saving names the JSON error */ } }
      if (!payload.endpoint_url) {
        CM.toast("Enter a URL to test.", "error");
        return;
      }
      testButton.disabled = true;
      spinner.classList.remove("hidden");
      result.classList.add("hidden");
      try {
        const data = await CM.api("POST", "/api/v1/cron/test", payload);
        result.querySelector("[data-test-badge]").innerHTML = CM.badge(data.status);
        result.querySelector("[data-test-summary]").textContent =
          `${data.response_status ? `HTTP ${data.response_status}` : "No response"} in ${CM.duration(data.execution_time_ms)}` +
          (data.error_message ? ` — ${data.error_message}` : "") + (data.truncated ? " (body truncated)" : "");
        result.querySelector("[data-test-body]").textContent = data.response_body || "(empty body)";
      } catch (err) {
        result.querySelector("[data-test-badge]").innerHTML = CM.badge("FAILED");
        result.querySelector("[data-test-summary]").textContent = err.message;
        result.querySelector("[data-test-body]").textContent = JSON.stringify(err.fields || {}, null, 2);
      } finally {
        testButton.disabled = false;
        spinner.classList.add("hidden");
        result.classList.remove("hidden");
      }
    });
  });
})();
