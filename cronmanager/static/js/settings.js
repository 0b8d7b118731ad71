/* Settings: alert channels (create, send test, pause/resume, delete) through the JSON API /api/v1/alert-channels.
   The API applies the channel rules and writes the audit trail; this file only collects input and shows results. */
(function () {
  "use strict";
  const CM = window.CM;
  const API = "/api/v1/alert-channels";

  /* Same markup as the channel_item Jinja macro. */
  function channelItem(c) {
    const slack = (c.config || {}).format === "slack";
    const li = document.createElement("li");
    li.className = "flex flex-col gap-2 p-3 sm:flex-row sm:items-start sm:justify-between";
    li.dataset.channelId = c.id;
    li.dataset.channelName = c.name || c.target;
    li.dataset.active = c.is_active ? "true" : "false";
    const state = !c.is_active ? `<span class="badge badge-off">paused</span>`
      : c.consecutive_errors ? `<span class="badge badge-FAILED">failing</span>`
        : c.last_error ? `<span class="badge badge-RUNNING">last send failed</span>` : `<span class="badge badge-SUCCESS">active</span>`;
    const radio = document.querySelector(`input[name=kind][value="${CSS.escape(c.kind)}"]`);
    const label = radio ? radio.dataset.kindLabel : c.kind;
    const kind = slack ? "webhook · Slack" : label.toLowerCase();
    const errors = `${CM.esc(c.consecutive_errors)} consecutive error${c.consecutive_errors === 1 ? "" : "s"}` +
      (c.last_error ? ` · <span class="break-all text-red-700">last: ${CM.esc(c.last_error)}</span>` : "");
    li.innerHTML =
      `<div class="min-w-0"><div class="flex flex-wrap items-center gap-1.5">` +
      `<span class="font-medium">${CM.esc(c.name || label)}</span>` +
      `<span class="badge badge-on">${CM.esc(kind)}</span>` +
      (c.is_global ? `<span class="badge bg-purple-100 text-purple-800">global</span>` : "") +
      `<span data-channel-state>${state}</span></div>` +
      `<p class="mt-0.5 font-mono text-xs break-all text-slate-600" data-channel-target>${CM.esc(c.target)}</p>` +
      `<p class="mt-0.5 text-xs"><a class="text-indigo-700 hover:underline" href="/channels/${encodeURIComponent(c.id)}" data-channel-deliveries>Deliveries</a></p>` +
      `<p class="mt-0.5 text-xs text-slate-500" data-channel-errors>${errors}</p></div>` +
      `<div class="flex shrink-0 flex-wrap gap-1.5">` +
      `<button type="button" class="btn btn-sm" data-channel-action="test">Send test</button>` +
      `<button type="button" class="btn btn-sm" data-channel-action="${c.is_active ? "pause" : "resume"}">${c.is_active ? "Pause" : "Resume"}</button>` +
      `<button type="button" class="btn btn-sm btn-danger" data-channel-action="delete">Delete</button></div>`;
    return li;
  }

  function listChanged() {
    const list = document.querySelector("[data-channel-list]");
    const empty = list.children.length === 0;
    list.classList.toggle("hidden", empty);
    document.querySelector("[data-channels-empty]").classList.toggle("hidden", !empty);
  }

  async function refresh(li) {
    const c = await CM.api("GET", `${API}/${encodeURIComponent(li.dataset.channelId)}`);
    const fresh = channelItem(c);
    li.replaceWith(fresh);
    return fresh;
  }

  /* The checked kind's radio carries how to ask for its target (from the server's kind registry). */
  function kindOf(form) {
    return form.querySelector("input[name=kind]:checked") || form.querySelector("input[name=kind]");
  }

  function setKind(form) {
    const radio = kindOf(form);
    const webhook = radio.value === "webhook";
    const type = radio.dataset.kindTargetType || "text";
    form.querySelectorAll("[data-webhook-only]").forEach((el) => el.classList.toggle("hidden", !webhook));
    const input = form.querySelector("[data-target-input]");
    input.type = type === "none" ? "text" : type;
    input.disabled = type === "none";
    input.placeholder = radio.dataset.kindPlaceholder || "";
    input.inputMode = type === "url" || type === "email" ? type : "text";
    form.querySelector("[data-target-label]").textContent = radio.dataset.kindTargetLabel || "Target";
  }

  function showError(form, field, message) {
    const el = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!el) return false;
    el.textContent = message;
    el.classList.remove("hidden");
    const input = el.parentElement.querySelector(".input");
    if (input) input.classList.add("input-error");
    return true;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach((el) => { el.classList.add("hidden"); el.textContent = ""; });
    form.querySelectorAll(".input-error").forEach((el) => el.classList.remove("input-error"));
  }

  async function create(form) {
    clearErrors(form);
    const kind = form.elements.kind.value;
    const payload = { kind, name: form.elements.name.value.trim(), target: form.elements.target.value.trim() };
    const secret = form.elements.secret.value.trim();
    if (kind === "webhook") {
      payload.config = { format: form.elements.slack.checked ? "slack" : "json" };
      if (secret) payload.config.secret = secret;
    }
    if (form.elements.is_global) payload.is_global = form.elements.is_global.checked;
    if (!payload.target && kindOf(form).dataset.kindTargetType !== "none") {
      showError(form, "target", `Enter the ${kindOf(form).dataset.kindTargetLabel.toLowerCase()}.`);
      return;
    }
    const button = form.querySelector("button[type=submit]");
    CM.busy(button, true);
    try {
      const c = await CM.api("POST", API, payload);
      document.querySelector("[data-channel-list]").appendChild(channelItem(c));
      listChanged();
      if (kind === "webhook" && !secret && c.config && c.config.secret) {
        const panel = document.querySelector("[data-new-secret]");
        panel.querySelector("[data-new-secret-value]").value = c.config.secret;
        panel.classList.remove("hidden");
        panel.scrollIntoView({ block: "nearest" });
      }
      form.reset();
      setKind(form);
      CM.toast(`Channel “${c.name || c.target}” added.`, "success");
    } catch (err) {
      let placed = false;
      Object.keys(err.fields || {}).forEach((f) => { placed = showError(form, f, err.fields[f]) || placed; });
      CM.toast(placed ? "Please fix the fields marked in the form." : err.message, "error");
    } finally {
      CM.busy(button, false);
    }
  }

  async function act(button) {
    const li = button.closest("[data-channel-id]");
    const id = encodeURIComponent(li.dataset.channelId);
    const name = li.dataset.channelName;
    const action = button.dataset.channelAction;
    if (action === "delete") {
      const ok = await CM.confirm(`Delete the channel “${name}”? Alerts stop going there; its delivery history is kept.`,
        { title: "Delete channel", confirmLabel: "Delete" });
      if (!ok) return;
    }
    CM.busy(button, true);
    try {
      if (action === "test") {
        const result = await CM.api("POST", `${API}/${id}/test`);
        if (result.ok) CM.toast(`Test message delivered to “${name}”.`, "success");
        else CM.toast(`Test to “${name}” failed: ${result.error || "unknown error"}`, "error");
        await refresh(li);
      } else if (action === "pause" || action === "resume") {
        await CM.api("PUT", `${API}/${id}`, { is_active: action === "resume" });
        await refresh(li);
        CM.toast(action === "pause" ? `“${name}” paused.` : `“${name}” resumed.`, "success");
      } else if (action === "delete") {
        await CM.api("DELETE", `${API}/${id}`);
        li.remove();
        listChanged();
        CM.toast(`Channel “${name}” deleted.`, "success");
      }
    } catch (err) {
      CM.busy(button, false);
      CM.toast(err.message, "error");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-create-channel]");
    if (form) {
      setKind(form);
      form.querySelectorAll("input[name=kind]").forEach((r) => r.addEventListener("change", () => setKind(form)));
      form.addEventListener("submit", (ev) => { ev.preventDefault(); create(form); });
    }
    document.querySelector("[data-copy-secret]")?.addEventListener("click", async () => {
      const input = document.querySelector("[data-new-secret-value]");
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (e) {
        input.select();
        document.execCommand("copy");
      }
      CM.toast("Secret copied to the clipboard.", "success");
    });
    document.querySelector("[data-secret-done]")?.addEventListener("click", () => {
      const panel = document.querySelector("[data-new-secret]");
      panel.querySelector("[data-new-secret-value]").value = "";
      panel.classList.add("hidden");
    });
    document.addEventListener("click", (ev) => {
      const button = ev.target.closest("[data-channel-action]");
      if (button) { ev.preventDefault(); act(button); }
    });
  });
})();
