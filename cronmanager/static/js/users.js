/* Users page: create, change role, deactivate/reactivate (with a confirm) through the users API. */
(function () {
  "use strict";
  const CM = window.CM;

  function reloadWith(message) {
    sessionStorage.setItem("cm:toast", message);
    window.location.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-create-user]");
    if (form) form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      form.querySelectorAll("[data-error-for]").forEach((el) => el.classList.add("hidden"));
      const payload = { email: form.elements.email.value.trim(), password: form.elements.password.value,
        role: form.elements.role.value };
      const button = form.querySelector("button[type=submit]");
      CM.busy(button, true);
      try {
        const user = await CM.api("POST", "/api/v1/users", payload);
        reloadWith(`User ${user.email} created as ${user.role}.`);
      } catch (err) {
        Object.keys(err.fields || {}).forEach((f) => {
          const el = form.querySelector(`[data-error-for="${f}"]`);
          if (el) { el.textContent = err.fields[f]; el.classList.remove("hidden"); }
        });
        CM.toast(err.message, "error");
        CM.busy(button, false);
      }
    });

    const table = document.querySelector("[data-users-table]");
    if (!table) return;
    table.addEventListener("change", async (ev) => {
      const select = ev.target.closest("[data-user-role]");
      if (!select) return;
      const row = select.closest("tr");
      const previous = Array.from(select.options).find((o) => o.defaultSelected);
      const ok = await CM.confirm(`Make ${row.dataset.userEmail} ${select.value}?`,
        { title: "Change role", confirmLabel: `Make ${select.value}`, danger: select.value === "ADMIN" });
      if (!ok) { if (previous) select.value = previous.value; return; }
      try {
        await CM.api("PATCH", `/api/v1/users/${encodeURIComponent(row.dataset.userId)}`, { role: select.value });
        reloadWith(`${row.dataset.userEmail} is now ${select.value}.`);
      } catch (err) {
        if (previous) select.value = previous.value;
        CM.toast(err.message, "error");
      }
    });
    table.addEventListener("submit", async (ev) => {
      const form = ev.target.closest("[data-handover]");
      if (!form) return;
      ev.preventDefault();
      const row = form.closest("tr");
      const select = form.elements.owner_id;
      if (!select.value) { CM.toast("Nobody to hand the jobs to: create or activate a user first.", "error"); return; }
      const to = select.options[select.selectedIndex].text;
      const ok = await CM.confirm(`Hand every job of ${row.dataset.userEmail} to ${to}? The jobs keep their schedules.`,
        { title: "Hand over jobs", confirmLabel: "Hand over", danger: false });
      if (!ok) return;
      const button = form.querySelector("button");
      CM.busy(button, true);
      try {
        const owner = encodeURIComponent(row.dataset.userId);
        let moved = 0;
        for (;;) {  // each job is one audited owner change; the list shrinks as jobs move
          const page = await CM.api("GET", `/api/v1/cron?owner_id=${owner}&per_page=200`);
          if (!page.items.length) break;
          for (const job of page.items) {
            await CM.api("PATCH", `/api/v1/cron/${encodeURIComponent(job.id)}`, { owner_id: select.value });
            moved += 1;
          }
        }
        reloadWith(`${moved} job${moved === 1 ? "" : "s"} handed to ${to}.`);
      } catch (err) {
        CM.busy(button, false);
        CM.toast(err.message, "error");
      }
    });
    table.addEventListener("click", async (ev) => {
      const button = ev.target.closest("[data-user-action]");
      if (!button) return;
      const row = button.closest("tr");
      if (button.dataset.userAction === "reset-2fa") {
        const reset = await CM.confirm(`Reset ${row.dataset.userEmail}'s two-factor authentication? They sign in with their password alone until they enrol again, and every session of theirs ends now.`,
          { title: "Reset two-factor authentication", confirmLabel: "Reset", danger: true });
        if (!reset) return;
        CM.busy(button, true);
        try {
          await CM.api("DELETE", `/api/v1/users/${encodeURIComponent(row.dataset.userId)}/2fa`);
          reloadWith(`${row.dataset.userEmail}'s two-factor authentication was reset.`);
        } catch (err) {
          CM.busy(button, false);
          CM.toast(err.message, "error");
        }
        return;
      }
      const deactivate = button.dataset.userAction === "deactivate";
      const ok = await CM.confirm(deactivate
        ? `Deactivate ${row.dataset.userEmail}? Their sessions and API tokens stop working at once; their jobs keep running.`
        : `Reactivate ${row.dataset.userEmail}? They can sign in again and their API tokens work again.`,
      { title: deactivate ? "Deactivate user" : "Reactivate user", confirmLabel: deactivate ? "Deactivate" : "Reactivate",
        danger: deactivate });
      if (!ok) return;
      CM.busy(button, true);
      try {
        await CM.api("PATCH", `/api/v1/users/${encodeURIComponent(row.dataset.userId)}`, { is_active: !deactivate });
        reloadWith(`${row.dataset.userEmail} ${deactivate ? "deactivated" : "reactivated"}.`);
      } catch (err) {
        CM.busy(button, false);
        CM.toast(err.message, "error");
      }
    });
  });
})();
