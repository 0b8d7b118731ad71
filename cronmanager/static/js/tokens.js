/* API tokens: create (shown once, copy button), revoke and regenerate through the API. */
(function () {
  "use strict";
  const CM = window.CM;

  function endOfLocalDay(dateValue) {
    // The date is the last valid day in the viewer's zone; find that zone's midnight after it, in UTC.
    const [y, m, d] = dateValue.split("-").map(Number);
    const guess = Date.UTC(y, m - 1, d + 1, 0, 0, 0);
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: CM.tz, hour12: false, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(guess));
    const get = (t) => Number(parts.find((p) => p.type === t).value);
    const asLocal = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
    return new Date(guess - (asLocal - guess)).toISOString();
  }

  function showToken(token) {
    const panel = document.querySelector("[data-new-token]");
    panel.querySelector("[data-new-token-value]").value = token;
    panel.classList.remove("hidden");
    panel.scrollIntoView({ block: "nearest" });
    panel.querySelector("[data-new-token-value]").select();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-create-token]");
    if (form) form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      form.querySelectorAll("[data-error-for]").forEach((el) => el.classList.add("hidden"));
      const payload = {
        name: form.elements.name.value.trim(),
        scopes: Array.from(form.querySelectorAll("input[name=scopes]:checked")).map((i) => i.value),
        ip_allowlist: form.elements.ip_allowlist.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean),
      };
      if (form.elements.expires_at.value) payload.expires_at = endOfLocalDay(form.elements.expires_at.value);
      const button = form.querySelector("button[type=submit]");
      CM.busy(button, true);
      try {
        const data = await CM.api("POST", "/api/v1/auth/tokens", payload);
        showToken(data.token);
        form.reset();
        CM.toast(`Token “${data.name}” created.`, "success");
      } catch (err) {
        const fields = Object.keys(err.fields || {});
        fields.forEach((f) => {
          const el = form.querySelector(`[data-error-for="${f}"]`);
          if (el) { el.textContent = err.fields[f]; el.classList.remove("hidden"); }
        });
        if (!payload.name) {
          const el = form.querySelector("[data-error-for=name]");
          el.textContent = "Give the token a name."; el.classList.remove("hidden");
        }
        if (!payload.scopes.length) {
          const el = form.querySelector("[data-error-for=scopes]");
          el.textContent = "Pick at least one scope."; el.classList.remove("hidden");
        }
        CM.toast(err.message, "error");
      } finally {
        CM.busy(button, false);
      }
    });

    document.querySelector("[data-copy-token]")?.addEventListener("click", async () => {
      const input = document.querySelector("[data-new-token-value]");
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (e) {
        input.select();
        document.execCommand("copy");
      }
      CM.toast("Token copied to the clipboard.", "success");
    });
    document.querySelector("[data-token-done]")?.addEventListener("click", () => window.location.reload());

    document.addEventListener("click", async (ev) => {
      const button = ev.target.closest("[data-token-action]");
      if (!button) return;
      const id = button.dataset.tokenId;
      const name = button.closest("tr").dataset.tokenName;
      if (button.dataset.tokenAction === "revoke") {
        const ok = await CM.confirm(`Revoke “${name}”? Anything using it gets 401 from the next call.`, { title: "Revoke token", confirmLabel: "Revoke" });
        if (!ok) return;
        try {
          await CM.api("DELETE", `/api/v1/auth/tokens/${encodeURIComponent(id)}`);
          const row = button.closest("tr");
          row.querySelector("[data-token-status]").innerHTML = `<span class="badge badge-off">revoked</span>`;
          row.querySelectorAll("[data-token-action]").forEach((b) => b.remove());
          CM.toast(`“${name}” revoked.`, "success");
        } catch (err) {
          CM.toast(err.message, "error");
        }
      } else {
        const ok = await CM.confirm(`Regenerate “${name}”? The current value stops working now; the new one is shown once.`,
          { title: "Regenerate token", confirmLabel: "Regenerate" });
        if (!ok) return;
        try {
          const data = await CM.api("POST", `/api/v1/auth/tokens/${encodeURIComponent(id)}/regenerate`);
          showToken(data.token);
          const row = button.closest("tr");
          row.querySelector("[data-token-status]").innerHTML = `<span class="badge badge-off">revoked</span>`;
          row.querySelectorAll("[data-token-action]").forEach((b) => b.remove());
        } catch (err) {
          CM.toast(err.message, "error");
        }
      }
    });
  });
})();
