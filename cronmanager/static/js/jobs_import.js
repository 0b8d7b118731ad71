/* Jobs → Import: send the chosen file to the import API as a plan, show it as a diff, apply after a confirm. */
(function () {
  "use strict";
  const CM = window.CM;

  const show = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
  const row = (kind, label, name, detail) =>
    `<tr data-plan-row="${kind}"><td class="w-8 whitespace-nowrap"><span class="badge ${label[1]}">${label[0]}</span></td>` +
    `<td class="font-medium" data-plan-name>${CM.esc(name)}</td><td>${detail || ""}</td></tr>`;
  const KINDS = {
    create: ["+ create", "badge-SUCCESS"], update: ["~ update", "badge-RUNNING"],
    delete: ["− delete", "badge-FAILED"], error: ["! error", "badge-FAILED"],
  };

  function changesTable(changes) {
    return `<table class="table">` + Object.entries(changes).map(([field, [before, after]]) =>
      `<tr data-change="${CM.esc(field)}"><td class="w-40 font-mono text-xs">${CM.esc(field)}</td>` +
      `<td class="bg-red-50 text-red-700"><pre class="font-mono text-xs">− ${CM.esc(show(before))}</pre></td>` +
      `<td class="bg-green-50 text-green-700"><pre class="font-mono text-xs">+ ${CM.esc(show(after))}</pre></td></tr>`).join("") +
      `</table>`;
  }

  function errorList(fields) {
    return Object.entries(fields).map(([field, message]) =>
      `<div class="text-sm text-red-700"><code>${CM.esc(field)}</code>: ${CM.esc(message)}</div>`).join("");
  }

  function render(plan, applied) {
    const section = document.querySelector("[data-plan]");
    section.classList.remove("hidden");
    section.querySelector("[data-plan-title]").textContent = applied ? "Applied" : "Plan";
    const counts = [
      [plan.create.length, "to create", "badge-SUCCESS"], [plan.update.length, "to update", "badge-RUNNING"],
      [plan.delete.length, "to delete", "badge-FAILED"], [plan.unchanged, "unchanged", "badge-off"],
      [plan.errors.length, plan.errors.length === 1 ? "error" : "errors", plan.errors.length ? "badge-FAILED" : "badge-off"],
    ];
    section.querySelector("[data-plan-summary]").innerHTML = counts.map(([n, label, cls]) =>
      `<span class="badge ${cls}" data-count="${CM.esc(label)}">${CM.esc(n)} ${CM.esc(label)}</span>`).join("");
    const rows = [
      ...plan.errors.map((e) => row("error", KINDS.error, e.name, errorList(e.fields))),
      ...plan.create.map((name) => row("create", KINDS.create, name, "")),
      ...plan.update.map((u) => row("update", KINDS.update, u.name, changesTable(u.changes))),
      ...plan.delete.map((name) => row("delete", KINDS.delete, name, "")),
    ];
    const empty = `<tr><td class="text-slate-600" data-plan-empty>Nothing to do: your jobs already match the document.</td></tr>`;
    const fix = plan.errors.length && !applied
      ? `<tr><td colspan="3" class="text-sm text-red-700" data-plan-blocked>Nothing can be applied while the document has errors: fix them and show the plan again.</td></tr>`
      : "";
    section.querySelector("[data-plan-table]").innerHTML = fix + rows.join("") || empty;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-import-form]");
    if (!form) return;
    const apply = form.querySelector("[data-apply]");
    let pending = null;
    let plan = null;

    async function send(mode) {
      const query = new URLSearchParams({ mode: mode, prune: pending.prune ? "true" : "false" });
      if (pending.owner) query.set("owner_id", pending.owner);
      const resp = await fetch(`/api/v1/cron/import?${query}`, {
        method: "POST", credentials: "same-origin", body: pending.text,
        headers: { Accept: "application/json", "Content-Type": pending.type, "X-CSRFToken": CM.csrf },
      });
      let data = null;
      try { data = await resp.json(); } catch (e) { data = null; }
      return { status: resp.status, data: data };
    }

    const failed = (data, status) => CM.toast((data && data.error && data.error.message) || `Request failed (HTTP ${status})`, "error");

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = form.querySelector("[data-file]").files[0];
      if (!file) return;
      pending = {
        text: await file.text(), prune: form.querySelector("[data-prune]").checked,
        type: /\.json$/i.test(file.name) ? "application/json" : "application/yaml",
        owner: (form.querySelector("[data-owner]") || {}).value || "",
      };
      const button = form.querySelector("[data-plan-button]");
      CM.busy(button, true);
      const { status, data } = await send("plan");
      CM.busy(button, false);
      apply.classList.add("hidden");
      if (status !== 200) { failed(data, status); return; }
      plan = data;
      render(plan, false);
      const changes = plan.create.length + plan.update.length + plan.delete.length;
      if (!plan.errors.length && changes) {
        apply.className = `btn ${plan.delete.length ? "btn-danger" : "btn-primary"}`;
        apply.classList.remove("hidden");
      }
    });

    apply.addEventListener("click", async () => {
      if (!plan) return;
      const what = `${plan.create.length} to create, ${plan.update.length} to update, ${plan.delete.length} to delete`;
      const ok = await CM.confirm(`Apply this plan (${what})? All changes are made together, or none.`,
        { title: "Apply import", confirmLabel: "Apply", danger: plan.delete.length > 0 });
      if (!ok) return;
      CM.busy(apply, true);
      const { status, data } = await send("apply");
      CM.busy(apply, false);
      if (status === 200) {
        apply.classList.add("hidden");
        render(data, true);
        CM.toast(`Import applied: ${data.create.length} created, ${data.update.length} updated, ${data.delete.length} deleted.`, "success");
      } else if (status === 422 && data && data.errors) {
        apply.classList.add("hidden");
        render(Object.assign({}, plan, { errors: data.errors }), false);
        failed(data, status);
      } else {
        failed(data, status);
      }
    });
  });
})();
