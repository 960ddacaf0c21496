// The packing panel of the pack station screen: the order's lines (verified / expected, left), the
// suggested box, the state with both weights at a mismatch, the keys of the current state (the
// override's PIN and reason, the missing unit's line and quantity) and the last label and slip jobs.
// It draws itself from the flow's view at load and from every packing prompt's screen data after.
(function () {
  "use strict";

  const { el, counted } = window.cellwms;
  const FORM_KEYS = new Set(["override", "missing"]); // keys that open a form before they are sent

  function fill(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? String(values[name]) : all;
    });
  }

  function mount(panel, options) {
    const T = JSON.parse(panel.dataset.texts || "{}");
    const send = options.send;
    const keepFocus = options.keepFocus || function () {};
    const problemText = options.problemText || function (detail) { return detail; };
    let devices = {}; // the station's devices' health, from the station's stream
    const q = function (selector) { return panel.querySelector(selector); };
    const overrideForm = q(".pack-override");
    const missingForm = q(".pack-missing");
    let lines = [];
    const documents = {}; // template -> its last job

    function grams(value) { return fill(T.grams, { grams: value }); }

    function initial(line) {
      const none = el("span", "pack-picture none", (line.name || line.sku || "?").slice(0, 1).toUpperCase());
      none.title = T.no_picture;
      return none;
    }

    // The SKU's picture as a small thumbnail (the SKU's name its alt text); its initial when it has
    // none or the picture does not load.
    function picture(line) {
      if (!line.image) return initial(line);
      const img = el("img", "pack-picture");
      img.alt = line.name || line.sku || "";
      img.width = 48;
      img.height = 48;
      img.decoding = "async";
      img.addEventListener("error", function () { img.replaceWith(initial(line)); }, { once: true });
      img.src = line.image;
      return img;
    }

    function drawLines(view) {
      const body = q(".pack-lines tbody");
      lines = view ? view.lines || [] : [];
      q(".pack-lines").hidden = !lines.length;
      body.replaceChildren(...lines.map(function (line) {
        const left = Math.max(0, line.expected - line.verified);
        const row = el("tr", "pack-line " + (left ? "open" : "done"));
        row.dataset.lineId = line.id;
        const name = el("td", "name");
        name.append(el("span", "sku-name", line.name || ""), " ", el("span", "sku-code", line.sku || ""));
        row.append(el("td", "pic"), name, el("td", "num verified", line.verified + " / " + line.expected),
          el("td", "num left", String(left)));
        row.firstChild.append(picture(line));
        return row;
      }));
      const select = missingForm.querySelector("select");
      select.replaceChildren(...lines.filter(function (line) { return line.verified < line.expected; })
        .map(function (line) {
          const option = el("option", "", line.line_no + ". " + (line.name || line.sku) + " (" +
            (line.expected - line.verified) + ")");
          option.value = line.id;
          option.dataset.left = line.expected - line.verified;
          return option;
        }));
      setQuantity();
    }

    function setQuantity() {
      const option = missingForm.querySelector("select").selectedOptions[0];
      const quantity = missingForm.querySelector('[name="quantity"]');
      quantity.max = option ? option.dataset.left : "";
      quantity.value = option ? option.dataset.left : "";
    }

    function drawWeights(state, view, screen) {
      const parcel = (view && view.parcel) || {};
      const measured = screen.weight_g !== undefined ? screen.weight_g : parcel.weight_g;
      const expected = screen.expected_g !== undefined ? screen.expected_g : parcel.expected_g;
      const box = q(".pack-weights");
      const shown = (state === "weighing" || state === "mismatch") && parcel.seq !== undefined;
      box.hidden = !shown;
      box.className = "pack-weights state-" + state;
      if (!shown) return;
      q(".pack-parcel").textContent = fill(T.parcel, { seq: parcel.seq });
      q(".pack-weights .measured dd").textContent = measured === null || measured === undefined ? "—" : grams(measured);
      q(".pack-weights .expected dd").textContent = expected === null || expected === undefined ? "—" : grams(expected);
      const tolerance = screen.tolerance_g !== undefined ? screen.tolerance_g : parcel.tolerance_g;
      q(".pack-tolerance").textContent = tolerance === undefined ? "" : fill(T.tolerance, { grams: tolerance });
    }

    function drawPacked(view) {
      const packed = (view && view.packed) || [];
      q(".pack-packed").hidden = !packed.length;
      q(".pack-packed ul").replaceChildren(...packed.map(function (p) {
        const li = el("li", "pack-parcel-done");
        li.append(el("span", "", fill(T.parcel, { seq: p.seq })), " · ", el("span", "", T.tracking + ": "),
          el("b", "tracking", p.tracking || p.code), p.weight_g ? " · " + grams(p.weight_g) : "");
        return li;
      }));
    }

    function drawKeys(state, keys) {
      const box = q(".pack-keys");
      const list = Array.isArray(keys) ? keys : [];
      box.replaceChildren(...list.map(function (k) {
        const button = el("button", "pack-key", k.label);
        button.type = "button";
        button.dataset.key = k.key;
        if (FORM_KEYS.has(k.key)) button.dataset.keepFocus = ""; // its form takes the focus, not the scan field
        return button;
      }));
      const taken = new Set(list.map(function (k) { return k.key; }));
      if (!taken.has("override")) {
        overrideForm.hidden = true;
        overrideForm.reset();
      }
      if (!taken.has("missing")) missingForm.hidden = true;
      const note = q(".pack-note");
      const text = state === "mismatch" && !taken.has("override") ? T.override_hint
        : state === "held" ? T.held : state === "done" ? T.closed : "";
      note.textContent = text;
      note.hidden = !text;
    }

    function draw(state, keys, screen) {
      screen = screen || {};
      const view = screen.packing || null;
      const tag = q(".pack-state");
      tag.className = "pack-state state-" + state;
      tag.textContent = (T.states || {})[state] || state;
      panel.dataset.state = state;
      q(".pack-order").textContent = view ? fill(T.order, { number: view.order.number }) : T.no_order;
      const box = q(".pack-box");
      box.textContent = !view ? "" : view.box ? fill(T.box, { box: view.box.name || view.box.code }) : T.no_box;
      const left = view ? (view.lines || []).reduce(function (n, l) { return n + Math.max(0, l.expected - l.verified); }, 0) : 0;
      q(".pack-left").textContent = view && state !== "done" ? counted(T.units_left, left) : "";
      drawLines(view);
      drawWeights(state, view, screen);
      drawPacked(view);
      drawKeys(state, keys);
    }

    function drawDocuments() {
      const list = q(".pack-documents ul");
      const jobs = Object.values(documents).sort(function (a, b) { return a.id - b.id; });
      if (!jobs.length) return;
      const states = T.document_states || {};
      list.replaceChildren(...jobs.map(function (job) {
        const outcome = job.result || job.state;
        const li = el("li", "pack-document result-" + outcome);
        li.dataset.template = job.payload.template;
        li.append(el("span", "what", (T.templates || {})[job.payload.template] || job.payload.template), ": ",
          el("b", "outcome", states[outcome] || outcome));
        // A document not printed yet says what its printer waits for (paper, a closed head).
        const printer = devices[job.device] || {};
        if (!job.result && printer.state && printer.state !== "up" && printer.detail) {
          li.classList.add("device-waits");
          li.append(" — ", el("span", "device-problem", problemText(printer.detail)));
        }
        if (job.state === "failed" && !(job.detail || {}).reprinted_by && options.reprint) {
          const again = el("button", "reprint", T.reprint);
          again.type = "button";
          again.dataset.reprint = String(job.id);
          li.append(" ", again);
        }
        return li;
      }));
    }

    function job(j) {
      const template = j && j.kind === "print" && j.payload && j.payload.template;
      if (!template || !(template in (T.templates || {}))) return;
      const known = documents[template];
      if (known && known.id > j.id) return;
      documents[template] = j;
      drawDocuments();
    }

    // A prompt of the station: the packing flow's ones redraw the panel; any weight shows live.
    function update(prompt) {
      const screen = prompt.screen || {};
      if (screen.weight) {
        document.getElementById("pack-weight").textContent = screen.weight.value + " " + screen.weight.unit;
      }
      if (prompt.scenario === "packing" && prompt.state) draw(prompt.state, prompt.keys, screen);
    }

    panel.addEventListener("click", function (event) {
      const again = event.target.closest("button[data-reprint]");
      if (again) {
        again.disabled = true;
        keepFocus();
        options.reprint(Number(again.dataset.reprint)).then(function (queued) {
          if (queued) job(queued); else again.disabled = false;
        });
        return;
      }
      const button = event.target.closest("button[data-key]");
      if (!button) return;
      const name = button.dataset.key;
      if (FORM_KEYS.has(name)) {
        const form = name === "override" ? overrideForm : missingForm;
        form.hidden = !form.hidden;
        if (!form.hidden) form.querySelector("input, select").focus();
        else keepFocus();
        return;
      }
      keepFocus();
      send({ kind: "button", key: name });
    });
    missingForm.querySelector("select").addEventListener("change", setQuantity);
    overrideForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const pin = overrideForm.elements.pin.value;
      const reason = overrideForm.elements.reason.value;
      overrideForm.elements.pin.value = "";
      overrideForm.hidden = true;
      keepFocus();
      send({ kind: "button", key: "override", pin: pin, reason: reason }); // the reason stays for a retry
    });
    missingForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const body = { kind: "button", key: "missing", line_id: Number(missingForm.elements.line_id.value),
                     quantity: Number(missingForm.elements.quantity.value) };
      missingForm.hidden = true;
      keepFocus();
      send(body);
    });

    const view = JSON.parse(panel.dataset.view || "{}");
    draw(view.state || "idle", view.keys, view.screen);
    JSON.parse(panel.dataset.documents || "[]").forEach(job);
    function health(byName) {
      devices = byName || {};
      drawDocuments();
    }

    return { update: update, job: job, health: health };
  }

  window.cellwmsPacking = { mount: mount };
})();
