// The putaway task screen: the cell to go to, the goods, the route map (SVG), the reason chooser
// when another cell was scanned; drawn from the scenario's screen data (prompt.screen).
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function points(list) {
    return (list || []).map(function (p) { return Array.isArray(p) ? [Number(p[0]), Number(p[1])] : [Number(p.x), Number(p.y)]; })
      .filter(function (p) { return isFinite(p[0]) && isFinite(p[1]); });
  }

  function drawRoute(map, route, task) {
    const line = points(route && route.polyline);
    const stops = (route && route.stops) || [];
    const stopPoints = points(stops);
    const all = line.concat(stopPoints);
    if (!all.length) { map.hidden = true; return; }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    all.forEach(function (p) { minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]); });
    const pad = 2, w = Math.max(maxX - minX, 4) + 2 * pad, h = Math.max(maxY - minY, 4) + 2 * pad;
    map.setAttribute("viewBox", [minX - pad, minY - pad, w, h].join(" "));
    const r = Math.max(w, h) / 40;
    const parts = [];
    if (line.length > 1) {
      const path = svg("polyline", { class: "path", points: line.map(function (p) { return p.join(","); }).join(" ") });
      path.setAttribute("stroke-width", String(r * 0.6));
      parts.push(path);
      parts.push(svg("rect", { class: "depot", x: line[0][0] - r, y: line[0][1] - r, width: 2 * r, height: 2 * r }));
    }
    stops.forEach(function (stop, i) {
      const p = stopPoints[i];
      if (!p) return;
      const here = task && (stop.task_ids || []).includes(task.id);
      const dot = svg("circle", { class: "stop" + (here ? " current" : ""), cx: p[0], cy: p[1], r: here ? r * 1.6 : r });
      dot.setAttribute("stroke-width", String(r * 0.3));
      dot.dataset.taskIds = (stop.task_ids || []).join(" ");
      const title = svg("title");
      title.textContent = (stop.addresses || []).join(", ");
      dot.append(title);
      parts.push(dot);
    });
    map.replaceChildren(...parts);
    map.hidden = false;
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
