// The picking screen: the cell to go to in large type, the goods and quantity, the order's slot and
// tote, the route on the warehouse map (numbered stops), the quantity and short keypads; drawn from
// the scenario's screen data (prompt.screen).
(function () {
  "use strict";

  function drawRoute(map, route, target) {
    const stops = (route && route.stops) || [];
    const ids = stops.map(function (stop) {
      return (stop.cell_ids || []).filter(Number.isInteger).join(",");
    }).filter(Boolean);
    if (!ids.length) { map.hidden = true; map.dataset.shown = ""; return; }
    let url = map.dataset.url + "?stops=" + encodeURIComponent(ids.join(";")) + "&target=" + (target || "");
    if (route.start) url += "&start=" + encodeURIComponent(route.start);
    if (route.drop) url += "&drop=" + encodeURIComponent(route.drop);
    if (map.dataset.shown === url) return;
    map.dataset.shown = url;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (text) {
        if (map.dataset.shown !== url) return;
        const drawing = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
        if (drawing.nodeName !== "svg") throw new Error("not a map");
        map.replaceChildren(document.importNode(drawing, true));
        map.hidden = false;
      })
      .catch(function () { map.hidden = true; map.dataset.shown = ""; });
  }

  document.addEventListener("cellwms:handheld", function (event) {
    const hh = event.detail;
    const root = document.getElementById("handheld");
    const T = hh.texts;
    const target = document.getElementById("target");
    const map = document.getElementById("route-map");
    const info = document.getElementById("batch-info");
    const keypad = document.getElementById("keypad");
    const out = keypad.querySelector("output");
    let pad = "", entered = "";

    function text(id, value) { document.getElementById(id).textContent = value || ""; }

    function render(state, screen) {
      screen = screen && typeof screen === "object" ? screen : {};
      if (state) root.dataset.state = state;
      const batch = screen.batch || null;
      const line = screen.line || null;
      target.hidden = true;
      if (line) {
        target.hidden = false;
        text("target-label", T.go);
        text("target-cell", line.cell.address);
        window.cellwms.fitLine(document.getElementById("target-cell"));
        text("target-qty", window.cellwms.counted(T.units, line.quantity) +
             (screen.count ? " · " + T.counted.replace("{count}", screen.count) : ""));
        text("target-what", line.sku.name);
        const more = [line.sku.code];
        if (line.lot) more.push(T.lot + " " + line.lot);
        if (line.expiry) more.push(T.expiry + " " + line.expiry);
        text("target-more", more.join(" · "));
        text("target-tote", T.order + " " + line.order.number + " · " +
          (line.tote ? T.tote_slot.replace("{tote}", line.tote) : T.slot + " {slot}").replace("{slot}", line.slot));
        root.dataset.cell = line.cell.address;
      } else if (screen.slot) {
        target.hidden = false;
        text("target-label", T.slot_scan);
        text("target-cell", String(screen.slot.slot));
        text("target-qty", "");
        text("target-what", T.order + " " + screen.slot.order.number);
        text("target-more", "");
        text("target-tote", "");
        root.dataset.cell = "";
      } else {
        root.dataset.cell = "";
      }
      if (batch) {
        info.textContent = "#" + batch.id + (batch.cart ? " · " + batch.cart : "") + " · " +
          window.cellwms.counted(T.lines_left, batch.lines_left) + " · " + T.walked.replace("{m}", batch.walked_m);
        drawRoute(map, batch.route, line ? line.cell.id : "");
      } else {
        info.textContent = "";
        map.hidden = true;
        map.dataset.shown = "";
      }
    }

    function showPads(keys) {
      const taken = new Set((keys || []).map(function (k) { return k.key; }));
      root.querySelectorAll("button[data-open-pad]").forEach(function (button) {
        button.classList.toggle("not-now", !taken.has(button.dataset.openPad));
      });
      if (pad && !taken.has(pad)) { keypad.hidden = true; pad = ""; }
    }

    root.addEventListener("click", function (event) {
      const opener = event.target.closest("button[data-open-pad]");
      if (opener) {
        event.preventDefault();
        pad = opener.dataset.openPad;
        entered = "";
        out.textContent = "";
        const label = document.getElementById("keypad-label");
        label.textContent = label.dataset[pad] || "";
        keypad.hidden = false;
        keypad.dataset.pad = pad;
        return;
      }
      const button = event.target.closest("#keypad button[data-digit], #keypad button[data-pad]");
      if (!button) return;
      event.preventDefault();
      if (button.dataset.digit !== undefined) {
        if (entered.length < 6) entered = (entered + button.dataset.digit).replace(/^0+(?=\d)/, "");
      } else if (button.dataset.pad === "back") {
        entered = entered.slice(0, -1);
      } else if (button.dataset.pad === "ok" && entered !== "") {
        const body = { kind: "button", key: pad };
        body[pad === "short" ? "found" : "quantity"] = entered;
        keypad.hidden = true;
        pad = "";
        hh.send(body);
        entered = "";
      }
      out.textContent = entered;
      hh.keepFocus();
    });

    hh.onOutcome(function (prompt) {
      if (!prompt.state) return;
      render(prompt.state, prompt.screen);
      showPads(prompt.keys);
    });
    render(root.dataset.state, JSON.parse(root.dataset.screen || "{}"));
    showPads(JSON.parse(root.dataset.keys || "[]"));
  });
})();
