// The receiving panel, on the handheld receiving page and on the dock station screen: the
// delivery's lines and unknown barcodes drawn from the scenario's screen data (prompt.screen),
// its keys (quantity keypad, damaged, undo, add unexpected, sticker, close) and the forms that
// link an unknown barcode to a SKU or create one.
(function () {
  "use strict";

  const { el, call } = window.cellwms;

  // The delivery summary inside a prompt's screen data, whichever way the scenario nests it.
  function summaryOf(screen) {
    if (!screen || typeof screen !== "object") return null;
    if (Array.isArray(screen.lines) && screen.number !== undefined) return screen;
    for (const key of ["delivery", "summary", "receiving"]) {
      const inner = screen[key];
      if (inner && typeof inner === "object" && Array.isArray(inner.lines)) return inner;
    }
    return null;
  }

  function num(value) { return Number(value || 0); }
  function lineName(line) { return line.sku_name || line.name || (line.sku && line.sku.name) || ""; }
  function lineCode(line) {
    if (typeof line.sku === "string") return line.sku;
    return line.sku_code || line.code || (line.sku && line.sku.code) || "";
  }
  function received(line) { return num(line.received !== undefined ? line.received : line.received_qty); }
  function damaged(line) { return num(line.damaged !== undefined ? line.damaged : line.damaged_qty); }
  function expected(line) { return num(line.expected !== undefined ? line.expected : line.expected_qty); }
  function deliveryOf(summary) {
    const d = summary.delivery && typeof summary.delivery === "object" ? summary.delivery : summary;
    return { id: d.id || summary.delivery_id, number: d.number || summary.number || "", supplier: d.supplier || "",
             status: d.status || summary.status || "" };
  }

  function mount(panel, options) {
    const T = JSON.parse(panel.dataset.texts || "{}");
    const send = options.send;
    const onProblem = options.problem || function () {};
    const keepFocus = options.keepFocus || function () {};
    const keypad = panel.querySelector(".keypad");
    let entered = "";
    let current = null;

    function qtyCell(cls, label, value) {
      const span = el("span", cls);
      span.append(label + " ", el("b", "", String(value)));
      return span;
    }

    function renderLine(line) {
      const exp = expected(line), got = received(line), bad = damaged(line);
      const state = line.state || (line.unexpected ? "unexpected" : got + bad > exp ? "over"
        : got + bad === exp && exp ? "done" : "short");
      const li = el("li", "rline " + state);
      li.dataset.lineId = line.id;
      li.dataset.received = got;
      li.dataset.damaged = bad;
      li.dataset.expected = exp;
      li.append(el("div", "name", lineName(line)));
      const code = el("div", "code", T.sku + " " + lineCode(line));
      if (line.lot) code.append(" · " + T.lot + " " + line.lot);
      if (line.expiry) code.append(" · " + T.expiry + " " + line.expiry);
      if (line.unexpected) code.append(" · " + T.unexpected);
      li.append(code);
      const qty = el("div", "qty");
      qty.append(qtyCell("expected", T.expected, exp), qtyCell("received", T.received, got));
      if (bad) qty.append(qtyCell("damaged", T.damaged, bad));
      li.append(qty);
      if (exp) {
        const bar = el("div", "progress small");
        const fill = el("span");
        fill.style.width = Math.min(100, Math.round(100 * (got + bad) / exp)) + "%";
        bar.append(fill);
        li.append(bar);
      }
      if (options.keys !== false) {
        const keys = el("div", "line-keys");
        const one = el("button", "count-one", T.count_one);
        one.type = "button";
        Object.assign(one.dataset, { key: "count", lineId: line.id, quantity: "1" });
        const sticker = el("button", "sticker", T.sticker);
        sticker.type = "button";
        Object.assign(sticker.dataset, { key: "sticker", lineId: line.id, copies: "1" });
        keys.append(one, sticker);
        li.append(keys);
      }
      return li;
    }

    function renderQuestion(q) {
      const li = el("li", "rquestion");
      li.dataset.questionId = q.id;
      li.dataset.barcode = q.barcode;
      const head = el("div", "barcode", q.barcode);
      li.append(head, el("div", "code", window.cellwms.counted(T.units, q.quantity || 0)));
      if (q.status && q.status !== "open") {
        li.append(el("div", "code", T.linked + (q.sku_code ? ": " + q.sku_code : "")));
        return li;
      }
      // Link to a SKU: search by code, name or barcode, tap the one it is.
      const find = el("form", "link-form");
      find.dataset.keepFocus = "";
      const search = el("input");
      Object.assign(search, { type: "search", name: "q", placeholder: T.search, autocomplete: "off" });
      search.setAttribute("aria-label", T.search);
      const go = el("button", "", T.find);
      go.type = "submit";
      find.append(search, go);
      const found = el("ul", "found");
      find.addEventListener("submit", async function (event) {
        event.preventDefault();
        const text = search.value.trim();
        if (!text) return;
        try {
          const r = await call("GET", panel.dataset.skusUrl + "?q=" + encodeURIComponent(text));
          const skus = (r.body && r.body.skus) || [];
          found.replaceChildren(...(skus.length ? skus.map(function (sku) {
            const item = el("li");
            const pick = el("button", "pick-sku", sku.code + " · " + sku.name);
            pick.type = "button";
            pick.dataset.skuId = sku.id;
            pick.addEventListener("click", function () { answer(q.id, "link", { sku_id: sku.id }); });
            item.append(pick);
            return item;
          }) : [el("li", "", T.nothing_found)]));
        } catch (err) {
          onProblem(T.no_answer);
        }
      });
      // Or create a new SKU for it.
      const create = el("form", "create-form");
      create.dataset.keepFocus = "";
      const code = el("input");
      Object.assign(code, { type: "text", name: "code", placeholder: T.code, autocomplete: "off", required: true });
      code.setAttribute("aria-label", T.code);
      const name = el("input");
      Object.assign(name, { type: "text", name: "name", placeholder: T.name, autocomplete: "off", required: true });
      name.setAttribute("aria-label", T.name);
      const make = el("button", "", T.create);
      make.type = "submit";
      create.append(code, name, make);
      create.addEventListener("submit", function (event) {
        event.preventDefault();
        answer(q.id, "create-sku", { code: code.value, name: name.value });
      });
      li.append(el("div", "code", T.link), find, found, el("div", "code", T.create), create);
      return li;
    }

    async function answer(questionId, what, body) {
      try {
        const url = panel.dataset.questionsUrl.replace(/0\/?$/, "") + questionId + "/" + what;
        const r = await call("POST", url, body);
        if (!r.ok) return onProblem(r.body.title || T.no_answer);
        if (window.cellwms) window.cellwms.play("ok");
        render(r.body.summary);
        keepFocus();
      } catch (err) {
        onProblem(T.no_answer);
      }
    }

    function render(summary) {
      summary = summaryOf(summary);
      if (!summary) return;
      current = summary;
      const d = deliveryOf(summary);
      panel.hidden = false;
      panel.dataset.deliveryId = d.id || "";
      panel.dataset.status = d.status;
      const head = panel.querySelector(".delivery-number");
      if (head) head.textContent = d.number;
      const supplier = panel.querySelector(".delivery-supplier");
      if (supplier) supplier.textContent = d.supplier;
      const status = panel.querySelector(".delivery-status");
      if (status) {
        status.className = "badge delivery-status status-" + d.status;
        status.textContent = (T.statuses || {})[d.status] || d.status;
      }
      let exp = 0, done = 0;
      summary.lines.forEach(function (l) { exp += expected(l); done += received(l) + damaged(l); });
      const fill = panel.querySelector(".progress.total > span");
      if (fill) fill.style.width = (exp ? Math.min(100, Math.round(100 * done / exp)) : 0) + "%";
      const totals = panel.querySelector(".totals");
      if (totals) totals.textContent = done + " / " + exp;
      const lines = panel.querySelector(".rlines");
      lines.replaceChildren(...(summary.lines.length ? summary.lines.map(renderLine) : [el("li", "none", T.no_lines)]));
      const open = (summary.questions || []).filter(function (q) { return !q.status || q.status === "open"; });
      const questions = panel.querySelector(".rquestions");
      // Keep a question being answered (typed search) as it is; redraw the rest.
      const keep = new Map();
      questions.querySelectorAll(".rquestion").forEach(function (li) {
        if (li.contains(document.activeElement) || li.querySelector(".found li")) keep.set(li.dataset.questionId, li);
      });
      questions.replaceChildren(...(open.length ? open.map(function (q) {
        const kept = keep.get(String(q.id));
        if (kept) {
          kept.querySelector(".code").textContent = window.cellwms.counted(T.units, q.quantity || 0);
          return kept;
        }
        return renderQuestion(q);
      }) : [el("li", "none", T.no_questions)]));
      panel.querySelector(".questions-card").dataset.open = String(open.length);
      const closing = panel.querySelector(".closed-note");
      if (closing) {
        closing.hidden = !(d.status === "closed" || d.status === "accepted");
        closing.querySelector("a").href = panel.dataset.discrepanciesUrl.replace(/\/0\//, "/" + d.id + "/");
      }
      window.cellwms.reshowKeys(panel.closest("[data-keys]"));
      panel.dispatchEvent(new CustomEvent("receiving:render", { detail: summary }));
    }

    // Keys: every [data-key] button of the panel goes to the scenario.
    panel.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-key]");
      if (!button || !panel.contains(button)) return;
      event.preventDefault();
      event.stopPropagation();
      if (button.dataset.key === "keypad") {
        keypad.hidden = !keypad.hidden;
        entered = "";
        keypad.querySelector("output").textContent = "";
        return keepFocus();
      }
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const body = { kind: "button", key: button.dataset.key };
      for (const [name, value] of Object.entries(button.dataset)) {
        if (name === "key" || name === "confirm") continue;
        body[name.replace(/[A-Z]/g, function (c) { return "_" + c.toLowerCase(); })] = value;
      }
      send(body);
      keepFocus();
    });

    // The quantity keypad: digits, then OK sends `quantity` (the next scan counts that many).
    if (keypad) {
      const out = keypad.querySelector("output");
      keypad.addEventListener("click", function (event) {
        const button = event.target.closest("button[data-digit], button[data-pad]");
        if (!button) return;
        event.preventDefault();
        event.stopPropagation();
        if (button.dataset.digit !== undefined) {
          if (entered.length < 6) entered = (entered + button.dataset.digit).replace(/^0+/, "");
        } else if (button.dataset.pad === "back") {
          entered = entered.slice(0, -1);
        } else if (button.dataset.pad === "ok") {
          if (entered) send({ kind: "button", key: "quantity", value: entered });
          entered = "";
          keypad.hidden = true;
        }
        out.textContent = entered;
        keepFocus();
      });
    }

    // A prompt's screen data: the delivery (null once left), and the keys' state.
    function update(screen) {
      if (!screen || typeof screen !== "object") return;
      if ("delivery" in screen && !screen.delivery) {
        panel.hidden = true;
        panel.dataset.deliveryId = "";
        panel.dispatchEvent(new CustomEvent("receiving:left"));
        return;
      }
      const summary = summaryOf(screen);
      if (summary) render(summary);
      const damagedKey = panel.querySelector(".key-damaged");
      if (damagedKey && "damaged_next" in screen) {
        damagedKey.classList.toggle("on", Boolean(screen.damaged_next));
        damagedKey.setAttribute("aria-pressed", screen.damaged_next ? "true" : "false");
      }
      const quantityKey = panel.querySelector(".key-quantity");
      if (quantityKey && "quantity" in screen) {
        const n = Number(screen.quantity || 1);
        quantityKey.classList.toggle("on", n > 1);
        quantityKey.dataset.n = n > 1 ? "×" + n : "";
        quantityKey.querySelector(".n").textContent = n > 1 ? " ×" + n : "";
      }
      const unexpectedKey = panel.querySelector(".key-unexpected");
      if (unexpectedKey && "last_unexpected" in screen) unexpectedKey.classList.toggle("on", Boolean(screen.last_unexpected));
    }

    if (panel.dataset.summary) {
      const first = JSON.parse(panel.dataset.summary);
      if (first && first.lines) render(first);
    }
    return { render: render, update: update, summaryOf: summaryOf, current: function () { return current; } };
  }

  window.cellwmsReceiving = { mount: mount, summaryOf: summaryOf };
})();
