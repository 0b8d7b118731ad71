/* Job form: the visual cron builder (pickers <-> expression) and the time explained panel (DST transitions,
   warnings) from GET /api/v1/cron/preview. The expression input stays the truth: pickers write it, typing in it sets
   the pickers, and a field the pickers cannot show is kept as typed. */
(function () {
  "use strict";
  const CM = window.CM;
  const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
  const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
  const FIELDS = {
    minute: { lo: 0, hi: 59, name: "Minute" },
    hour: { lo: 0, hi: 23, name: "Hour" },
    dom: { lo: 1, hi: 31, name: "Day of month" },
    month: { lo: 1, hi: 12, name: "Month", names: MONTHS, base: 1 },
    dow: { lo: 0, hi: 7, name: "Weekday", names: DAYS, base: 0 },
  };
  const ORDER = ["minute", "hour", "dom", "month", "dow"];

  function number(text, spec) {
    const t = text.toLowerCase();
    let n = null;
    if (/^\d+$/.test(t)) n = parseInt(t, 10);
    else if (spec.names && spec.names.includes(t)) n = spec.names.indexOf(t) + spec.base;
    if (n === null || n < spec.lo || n > spec.hi) return null;
    return spec === FIELDS.dow && n === 7 ? 0 : n;
  }

  /* one field's text -> what the pickers show, or {mode: "custom"} */
  function parseField(text, spec) {
    if (text === "*") return { mode: "every" };
    let m = /^\*\/(\d+)$/.exec(text);
    if (m && parseInt(m[1], 10) >= 1) return { mode: "step", step: parseInt(m[1], 10) };
    m = /^(\w+)-(\w+)$/.exec(text);
    if (m) {
      const from = number(m[1], spec);
      const to = number(m[2], spec);
      if (from !== null && to !== null && (from <= to || (spec === FIELDS.dow && m[2].toLowerCase() === "7")))
        return { mode: "range", from: m[1], to: m[2] };
      return { mode: "custom", text };
    }
    if (/^\w+(,\w+)*$/.test(text)) {
      const values = text.split(",").map((v) => number(v, spec));
      if (values.every((v) => v !== null)) return { mode: "list", values };
    }
    return { mode: "custom", text };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-job-form]");
    const builder = form && form.querySelector("[data-cron-builder]");
    if (!builder) return;
    const expr = form.querySelector("[data-cron-input]");
    const tz = form.querySelector("[data-tz-input]");
    const note = builder.querySelector("[data-builder-note]");
    const rows = {};
    ORDER.forEach((key) => { rows[key] = builder.querySelector(`[data-builder-field="${key}"]`); });
    let writing = false;

    function show(row, mode) {
      row.querySelector("[data-builder-mode]").value = mode;
      row.querySelectorAll("[data-builder-part]").forEach((part) => { part.hidden = part.dataset.builderPart !== mode; });
    }

    function setRow(key, state) {
      const row = rows[key];
      show(row, state.mode);
      if (state.mode === "step") row.querySelector("[data-builder-step]").value = state.step;
      if (state.mode === "range") {
        row.querySelector("[data-builder-from]").value = state.from;
        row.querySelector("[data-builder-to]").value = state.to;
      }
      if (state.mode === "list") {
        const choices = row.querySelectorAll("[data-builder-choice]");
        if (choices.length) choices.forEach((c) => { c.checked = state.values.includes(parseInt(c.value, 10)); });
        else row.querySelector("[data-builder-list]").value = state.values.join(", ");
      }
      if (state.mode === "custom") row.querySelector("[data-builder-custom]").textContent = state.text;
    }

    function rowText(key) {
      const row = rows[key];
      const mode = row.querySelector("[data-builder-mode]").value;
      if (mode === "every") return "*";
      if (mode === "step") return `*/${Math.max(1, parseInt(row.querySelector("[data-builder-step]").value, 10) || 1)}`;
      if (mode === "range") {
        const from = row.querySelector("[data-builder-from]").value.trim() || String(FIELDS[key].lo);
        const to = row.querySelector("[data-builder-to]").value.trim() || String(FIELDS[key].hi);
        return `${from}-${to}`;
      }
      if (mode === "list") {
        const choices = row.querySelectorAll("[data-builder-choice]");
        const values = choices.length
          ? Array.from(choices).filter((c) => c.checked).map((c) => c.value)
          : row.querySelector("[data-builder-list]").value.split(/[\s,;]+/).filter(Boolean);
        return values.length ? values.join(",") : "*";
      }
      return row.querySelector("[data-builder-custom]").textContent || "*";
    }

    function say(text) {
      note.textContent = text;
      note.classList.toggle("hidden", !text);
    }

    /* expression -> pickers */
    function readBack() {
      if (writing) return;
      const fields = expr.value.trim().split(/\s+/).filter(Boolean);
      const usable = fields.length === 5;
      builder.querySelectorAll("select, input").forEach((el) => { el.disabled = !usable; });
      if (!usable) {
        if (expr.value.trim()) say(`The pickers cannot show “${expr.value.trim()}” (${fields.length === 6 ? "a seconds field" : fields[0] && fields[0].startsWith("@") ? "a macro" : `${fields.length} fields`}): edit it as text above.`);
        else say("");
        return;
      }
      const custom = [];
      ORDER.forEach((key, i) => {
        const state = parseField(fields[i].toLowerCase(), FIELDS[key]);
        if (state.mode === "custom") custom.push(`${FIELDS[key].name} “${fields[i]}”`);
        setRow(key, state);
      });
      say(custom.length ? `The pickers cannot show ${custom.join(" and ")}; ${custom.length > 1 ? "they stay" : "it stays"} as typed (change the picker to replace it).` : "");
    }

    /* pickers -> expression */
    function write() {
      const text = ORDER.map(rowText).join(" ");
      writing = true;
      expr.value = text;
      expr.dispatchEvent(new Event("input", { bubbles: true }));
      writing = false;  // the pickers stay as set (an empty "at these" writes "*" but keeps its chips open)
    }

    ORDER.forEach((key) => {
      const row = rows[key];
      row.querySelector("[data-builder-mode]").addEventListener("change", (ev) => {
        show(row, ev.target.value);
        write();
      });
      row.querySelectorAll("input").forEach((input) => input.addEventListener(input.type === "checkbox" ? "change" : "input", write));
    });
    expr.addEventListener("input", readBack);
    form.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => setTimeout(readBack)));
    readBack();

    /* time explained: transitions and warnings of the next 100 runs */
    const panel = form.querySelector("[data-time-explained]");
    if (!panel) return;
    const transitions = panel.querySelector("[data-transitions]");
    const warnings = panel.querySelector("[data-warnings]");
    const warningsBox = panel.querySelector("[data-warnings-box]");
    let timer = null;
    let seq = 0;

    async function explain() {
      const value = expr.value.trim();
      const mine = ++seq;
      if (!value) {
        transitions.innerHTML = "";
        warningsBox.hidden = true;
        panel.dataset.state = "empty";
        return;
      }
      panel.dataset.state = "loading";
      const params = new URLSearchParams({ expression: value, timezone: tz.value || "UTC", count: "100" });
      if (panel.dataset.jobId) params.set("job_id", panel.dataset.jobId);
      try {
        const data = await CM.api("GET", `/api/v1/cron/preview?${params}`);
        if (mine !== seq) return;
        transitions.innerHTML = data.transitions.length
          ? data.transitions.map((t) => `<li data-transition="${CM.esc(t.kind)}"><span class="badge ${t.kind === "gap" ? "bg-amber-100 text-amber-900" : "bg-sky-100 text-sky-900"}">${t.kind === "gap" ? "clocks forward" : "clocks back"}</span> ${CM.esc(t.text)}</li>`).join("")
          : `<li class="text-slate-500" data-transition-none>No clock change in ${CM.esc(tz.value || "UTC")} touches these runs.</li>`;
        warnings.innerHTML = data.warnings.map((w) => `<li data-warning="${CM.esc(w.code)}"><span class="font-mono text-xs text-slate-500">${CM.esc(w.code)}</span> ${CM.esc(w.text)}</li>`).join("");
        warningsBox.hidden = !data.warnings.length;
        panel.dataset.state = "ok";
      } catch (err) {
        if (mine !== seq) return;
        transitions.innerHTML = "";
        warningsBox.hidden = true;
        panel.dataset.state = "error";
      }
    }
    const schedule = () => { clearTimeout(timer); timer = setTimeout(explain, 400); };
    expr.addEventListener("input", schedule);
    tz.addEventListener("change", explain);
    explain();
  });
})();
