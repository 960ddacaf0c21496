// The putaway task screen: the cell to go to, the goods, the warehouse map with the route, the reason chooser
// when another cell was scanned; drawn from the scenario's screen data (prompt.screen).
(function () {
  "use strict";

  // The route on the warehouse map: the server draws it (aisles, cells, the walked path, numbered
  // stops, the target cell) from the stops' cells in walking order.
  function drawRoute(map, route, task) {
    const stops = (route && route.stops) || [];
    const ids = stops.map(function (stop) {
      return (stop.cell_ids || []).filter(Number.isInteger).join(",");
    }).filter(Boolean);
    const target = task && task.cell && Number.isInteger(task.cell.id) ? String(task.cell.id) : "";
    if (!ids.length && !target) { map.hidden = true; map.dataset.shown = ""; return; }
    const url = map.dataset.url + "?stops=" + encodeURIComponent(ids.join(";")) + "&target=" + target;
    if (map.dataset.shown === url) return;
    map.dataset.shown = url;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (text) {
        if (map.dataset.shown !== url) return;  // a newer route came meanwhile
        const drawing = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
        if (drawing.nodeName !== "svg") throw new Error("not a map");
        map.replaceChildren(document.importNode(drawing, true));
        map.hidden = false;
      })
      .catch(function () { map.hidden = true; map.dataset.shown = ""; });
  }

  function taskOf(screen) {
    if (!screen || typeof screen !== "object") return null;
    const task = screen.task && typeof screen.task === "object" ? Object.assign({}, screen.task) : null;
    if (!task) return null;
    const cell = task.cell || screen.cell || task.suggested_cell || null;
    task.cell = cell;
    return task;
  }

  document.addEventListener("cellwms:handheld", function (event) {
    const hh = event.detail;
    const root = document.getElementById("handheld");
    const T = hh.texts;
    const target = document.getElementById("target");
    const reasons = document.getElementById("reasons");
    const map = document.getElementById("route-map");
    const left = document.getElementById("tasks-left");

    function showTask(task, route, upcoming) {
      root.dataset.taskId = upcoming ? "" : task.id;
      target.hidden = false;
      const label = document.getElementById("target-label");
      label.textContent = upcoming ? label.dataset.next : label.dataset.go;
      const cell = task.cell;
      document.getElementById("target-cell").textContent = cell ? (cell.address || cell.code || "") : T.no_cell;
      target.dataset.cell = cell ? (cell.address || "") : "";
      target.hidden = false;
      window.cellwms.fitLine(document.getElementById("target-cell"));
      document.getElementById("target-qty").textContent = window.cellwms.counted(T.units, task.quantity);
      document.getElementById("target-what").textContent = (task.sku_name || (task.sku && task.sku.name) || "");
      const more = [T.sku + " " + (task.sku_code || (task.sku && task.sku.code) || "")];
      if (task.lot) more.push(T.lot + " " + task.lot);
      if (task.expiry) more.push(T.expiry + " " + task.expiry);
      if (task.from_cell && task.from_cell.address) more.push(T.from + " " + task.from_cell.address);
      document.getElementById("target-more").textContent = more.join(" · ");
      const take = document.getElementById("take-task");
      take.hidden = !upcoming;
      take.dataset.taskId = task.id;
      if (route) drawRoute(map, route, task);
    }

    function render(screen) {
      if (!screen || typeof screen !== "object") return;
      // Another valid cell was scanned: ask why.
      const asking = Array.isArray(screen.reasons) && screen.reasons.length > 0;
      reasons.hidden = !asking;
      root.dataset.asking = asking ? "yes" : "no";
      const task = taskOf(screen);
      if (task) return showTask(task, screen.route, false);
      if (Array.isArray(screen.tasks)) {
        // An overview (a delivery chosen, a task done or skipped): the next task along the route.
        left.textContent = window.cellwms.counted(T.left, screen.tasks.length);
        root.dataset.left = String(screen.tasks.length);
        if (!screen.tasks.length) {
          target.hidden = true;
          map.hidden = true;
          root.dataset.taskId = "";
          left.textContent = T.all_done;
          return;
        }
        showTask(taskOf({ task: screen.tasks[0] }), screen.route, true);
      }
    }

    hh.onOutcome(function (prompt) { render(prompt.screen); });
    const start = JSON.parse(root.dataset.start || "{}");
    if (start.key) hh.send(start);
  });
})();
