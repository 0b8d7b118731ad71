/* Team page: forms marked data-confirm ask first (remove a member, leave, revoke a token, delete the team);
   the new service-account token can be copied. The forms themselves are plain POSTs. */
(function () {
  "use strict";
  const CM = window.CM;

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", async (ev) => {
        if (form.dataset.confirmed === "yes") return;
        ev.preventDefault();
        const ok = await CM.confirm(form.dataset.confirm,
          { title: form.dataset.confirmTitle, confirmLabel: form.dataset.confirmLabel });
        if (!ok) return;
        form.dataset.confirmed = "yes";
        form.requestSubmit();
      });
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
  });
})();
