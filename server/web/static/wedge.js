// A handheld's scanner settings (prefix, suffix, GS substitute), kept in this browser and sent
// with each scan as `wedge`; the server cuts the prefix and suffix and reads the substitute as GS.
(function () {
  "use strict";

  const KEY = "cellwms.wedge";
  const LIMITS = { prefix: 8, suffix: 8, gs: 1 };

  function settings() {
    let stored = {};
    try {
      stored = JSON.parse(window.localStorage.getItem(KEY) || "{}") || {};
    } catch (err) {
      stored = {};
    }
    const out = {};
    for (const [name, limit] of Object.entries(LIMITS)) {
      const value = typeof stored[name] === "string" ? stored[name].slice(0, limit) : "";
      if (value) out[name] = value;
    }
    return out;
  }

  function save(values) {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(values));
    } catch (err) {
      /* private mode: the settings last for this page only */
    }
  }

  window.cellwmsWedge = { settings: settings, save: save };

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("wedge-form");
    if (!form) return;
    const note = document.getElementById("wedge-note");
    const current = settings();
    for (const name of Object.keys(LIMITS)) form.elements[name].value = current[name] || "";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const values = {};
      for (const name of Object.keys(LIMITS)) values[name] = form.elements[name].value.slice(0, LIMITS[name]);
      save(values);
      if (note) note.textContent = note.dataset.saved;
    });
  });
})();
