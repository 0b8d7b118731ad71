/* Job form: response assertions as rows. The JSON textarea stays the truth (it is what the form posts, and what
   people without scripts edit); the rows read it once and rewrite it on every change. */
(function () {
  "use strict";

  const HINTS = {  // type: [first input's key and placeholder, second input's key and placeholder]
    status_in: [["values", "200, 204"], null],
    body_contains: [["value", "\"status\": \"ok\""], null],
    body_regex: [["pattern", "\"status\":\\s*\"(ok|done)\""], null],
    json_path: [["path", "$.status"], ["equals", "\"ok\" (JSON) or ok"]],
    header_equals: [["name", "Content-Type"], ["value", "application/json"]],
    max_duration_ms: [["value", "5000"], null],
  };

  function jsonOrText(text) {
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.querySelector("[data-assertions]");
    if (!box) return;
    const area = box.querySelector("[data-assertions-json]");
    const rows = box.querySelector("[data-assertion-rows]");
    const template = box.querySelector("[data-assertion-template]");
    let items;
    try {
      items = area.value.trim() ? JSON.parse(area.value) : [];
      if (!Array.isArray(items)) throw new Error("not a list");
    } catch (e) {
      return;  // not a list the rows can show: the JSON stays editable as text, and saving names the problem
    }
    area.hidden = true;
    box.querySelector("[data-assertions-json-hint]").hidden = true;

    function layout(row) {
      const type = row.querySelector('[data-a="type"]').value;
      const [first, second] = HINTS[type];
      const one = row.querySelector('[data-a="first"]');
      const two = row.querySelector('[data-a="second"]');
      const mode = row.querySelector('[data-a="mode"]');
      one.placeholder = first[1];
      one.setAttribute("aria-label", first[0]);
      mode.hidden = type !== "json_path";
      two.hidden = !second || (type === "json_path" && mode.value === "exists");
      if (second) { two.placeholder = second[1]; two.setAttribute("aria-label", second[0]); }
    }

    function read(row) {
      const type = row.querySelector('[data-a="type"]').value;
      const one = row.querySelector('[data-a="first"]').value;
      const two = row.querySelector('[data-a="second"]').value;
      if (type === "status_in") return { type, values: one.split(/[\s,;]+/).filter(Boolean).map(Number) };
      if (type === "max_duration_ms") return { type, value: Number(one) };
      if (type === "body_contains") return { type, value: one };
      if (type === "body_regex") return { type, pattern: one };
      if (type === "header_equals") return { type, name: one.trim(), value: two };
      const item = { type, path: one.trim() };
      if (row.querySelector('[data-a="mode"]').value === "exists") item.exists = true;
      else item.equals = jsonOrText(two);
      return item;
    }

    function sync() {
      const all = Array.from(rows.querySelectorAll("[data-assertion-row]"));
      all.forEach((row, i) => { row.querySelector("[data-assertion-number]").textContent = `${i + 1}.`; });
      area.value = all.length ? JSON.stringify(all.map(read), null, 1) : "";
    }

    function add(item) {
      rows.appendChild(template.content.cloneNode(true));
      const row = rows.lastElementChild;
      const type = item && HINTS[item.type] ? item.type : "status_in";
      row.querySelector('[data-a="type"]').value = type;
      if (item) {
        const one = row.querySelector('[data-a="first"]');
        const two = row.querySelector('[data-a="second"]');
        if (type === "status_in") one.value = (item.values || []).join(", ");
        else if (type === "body_regex") one.value = item.pattern || "";
        else if (type === "json_path") {
          one.value = item.path || "";
          row.querySelector('[data-a="mode"]').value = item.exists ? "exists" : "equals";
          const eq = item.equals;  // a string shows bare unless it would read back as another JSON value ("1")
          two.value = !("equals" in item) ? "" : typeof eq === "string" && jsonOrText(eq) === eq ? eq : JSON.stringify(eq);
        } else if (type === "header_equals") { one.value = item.name || ""; two.value = item.value || ""; }
        else one.value = item.value === undefined ? "" : item.value;
      }
      layout(row);
      return row;
    }

    items.forEach(add);
    sync();
    box.querySelector("[data-assertion-add]").addEventListener("click", () => {
      add(null).querySelector('[data-a="first"]').focus();
      sync();
    });
    rows.addEventListener("input", sync);
    rows.addEventListener("change", (ev) => {
      const row = ev.target.closest("[data-assertion-row]");
      if (row) layout(row);
      sync();
    });
    rows.addEventListener("click", (ev) => {
      const remove = ev.target.closest("[data-assertion-remove]");
      if (!remove) return;
      remove.closest("[data-assertion-row]").remove();
      sync();
    });
  });
})();
