// Handheld flow pages: one focused scan field (wedge scanners type the code and Enter), keys
// that post to the flow's input URL, the prompt with its sound. Page modules listen for outcomes.
(function () {
  "use strict";

  const { el, postJson, getJson } = window.cellwms;

  function play(sound) {
    if (window.cellwms && (sound === "ok" || sound === "error")) window.cellwms.play(sound);
  }

  // Key fields come from data-* attributes: data-key="count" data-line-id="3" -> {key, line_id: "3"}.
  function keyBody(button) {
    const body = { kind: "button", key: button.dataset.key };
    for (const [name, value] of Object.entries(button.dataset)) {
      if (name === "key") continue;
      body[name.replace(/[A-Z]/g, function (c) { return "_" + c.toLowerCase(); })] = value;
    }
    return body;
  }

  function setUp(root) {
    const T = JSON.parse(root.dataset.texts || "{}");
    const input = document.getElementById("scan-input");
    const form = document.getElementById("hh-scan");
    const promptBox = document.getElementById("prompt");
    const listeners = [];

    function keepFocus() {
      if (input && document.activeElement !== input) input.focus({ preventScroll: true });
    }

    function showPrompt(prompt) {
      if (!prompt || !promptBox) return;
      promptBox.className = "prompt sound-" + (prompt.sound || "none");
      promptBox.querySelector(".prompt-title").textContent = prompt.title || "";
      promptBox.querySelector(".prompt-message").textContent = prompt.message || "";
      promptBox.querySelector(".prompt-details").replaceChildren(
        ...(prompt.details || []).map(function (d) { return el("li", "", d); }));
      play(prompt.sound);
    }

    function problem(message) {
      showPrompt({ title: "", message: message || T.no_answer, sound: "error", details: [] });
    }

    // Inputs go one at a time, in order (a fast scanner may send the next before the answer);
    // one without an answer is sent again on its own: meanwhile "sent, waiting".
    const waitingBox = document.getElementById("send-state");
    function waiting(on) {
      root.dataset.waiting = on ? "yes" : "no";
      if (waitingBox) waitingBox.hidden = !on;
    }
    const queue = window.cellwms.inputQueue(root.dataset.inputUrl, {
      onWaiting: function () { waiting(true); },
      onAnswered: function () { waiting(false); },
    });
    function send(body) {
      return queue.send(body).then(function (r) {
        if (!r.ok) return problem(r.body.title);
        root.dataset.lastStatus = r.body.status || "";
        showPrompt(r.body.prompt);
        // A flow's prompt names its state and the keys it takes; an input refused before the
        // flow (state "") leaves the keys as they were.
        if (r.body.prompt && r.body.prompt.state) window.cellwms.showKeys(root, r.body.prompt.keys);
        listeners.forEach(function (fn) { fn(r.body.prompt || {}, r.body); });
      });
    }

    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        const code = input.value;
        input.value = "";
        keepFocus();
        if (code.trim()) send({ kind: "scan", code: code, wedge: window.cellwmsWedge && window.cellwmsWedge.settings() });
      });
    }

    root.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-key]");
      if (!button || !root.contains(button)) return;
      event.preventDefault();
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const body = keyBody(button);
      delete body.confirm;
      send(body);
    });

    // Gloved taps land anywhere: the scanner's keystrokes must still reach the scan field.
    document.addEventListener("click", function (event) {
      if (!event.target.closest("input, select, textarea, .bar, .keypad, [data-keep-focus]")) keepFocus();
    });
    if (input) {
      input.addEventListener("blur", function () {
        setTimeout(function () {
          const active = document.activeElement;
          if (!active || active === document.body) keepFocus();
        }, 150);
      });
      keepFocus();
    }

    window.cellwmsHandheld = {
      send: send, showPrompt: showPrompt, problem: problem, keepFocus: keepFocus, texts: T,
      onOutcome: function (fn) { listeners.push(fn); },
      postJson: postJson, getJson: getJson, el: el,
    };
    window.cellwms.reshowKeys(root);
    root.dataset.ready = "yes";
    document.dispatchEvent(new CustomEvent("cellwms:handheld", { detail: window.cellwmsHandheld }));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("handheld");
    if (root) setUp(root);
  });
})();
