/* Incidents page: a hint when an incident opens or resolves while the page is open (live events). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("cm:event", (ev) => {
      if (ev.detail.type === "incident:opened" || ev.detail.type === "incident:resolved") {
        document.querySelector("[data-new-incidents]")?.classList.remove("hidden");
      }
    });
  });
})();
