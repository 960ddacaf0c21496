// cellwms pages: feedback sounds, scanner focus, and the scan check page.
(function () {
  "use strict";

  let audio = null;
  function context() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }

  // A short rising two-tone for ok, a low buzz for error.
  const SOUNDS = {
    ok: [[880, 0, 0.08, "sine"], [1320, 0.09, 0.1, "sine"]],
    error: [[220, 0, 0.18, "square"], [180, 0.22, 0.25, "square"]],
  };

  function play(name) {
    const tones = SOUNDS[name];
    const ctx = tones && context();
    if (!ctx) return;
    const start = ctx.currentTime + 0.01;
    for (const [freq, at, length, type] of tones) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = type;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, start + at);
      gain.gain.exponentialRampToValueAtTime(0.001, start + at + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + at);
      osc.stop(start + at + length + 0.02);
    }
    document.body.dataset.played = name;
  }
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // A JSON call with the session's CSRF token: {ok, status, body} (body {} when not JSON).
  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(function () { return {}; });
    return { ok: response.ok, status: response.status, body: answer };
  }

  // A UUID v4. crypto.randomUUID exists only in secure contexts (HTTPS, localhost): handhelds
  // on a plain-HTTP LAN page get one from getRandomValues.
  function uuid4() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    const b = c.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  const ANSWER_MS = 10000; // a request without an answer by then is sent again
  const PAUSES_MS = [500, 1000, 2000, 4000, 8000, 15000];
  function pause(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }
  function lost(status) { return status >= 500 || status === 408 || status === 429; }

  // Inputs (scans, keys) to one URL, in order. Each body gets its event_id once; on a network
  // error, a timeout or a 5xx it is sent again, same body and event_id, with growing pauses until
  // the server answers (it stores each event_id once). `onWaiting(body)` is called when a retry
  // is due, `onAnswered(body)` when it got through. send(body) -> {ok, status, body}.
  function inputQueue(url, hooks) {
    hooks = hooks || {};
    let tail = Promise.resolve();
    async function deliver(body) {
      for (let attempt = 0; ; attempt++) {
        const abort = new AbortController();
        const timer = setTimeout(function () { abort.abort(); }, ANSWER_MS);
        let answer = null;
        try {
          const response = await fetch(url, {
            method: "POST", credentials: "same-origin", signal: abort.signal,
            headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
            body: JSON.stringify(body),
          });
          if (!lost(response.status)) {
            answer = { ok: response.ok, status: response.status,
                       body: await response.json().catch(function () { return {}; }) };
          }
        } catch (err) {
          answer = null; // no answer: send it again
        } finally {
          clearTimeout(timer);
        }
        if (answer) {
          if (attempt && hooks.onAnswered) hooks.onAnswered(body);
          return answer;
        }
        if (hooks.onWaiting) hooks.onWaiting(body);
        await pause(PAUSES_MS[Math.min(attempt, PAUSES_MS.length - 1)]);
      }
    }
    return {
      send: function (body) {
        const input = Object.assign({}, body);
        if (!input.event_id) input.event_id = uuid4();
        const result = tail.then(function () { return deliver(input); });
        tail = result.catch(function () {});
        return result;
      },
    };
  }

  // A counted text from the page ({one, few, many, other} made by ngettext, "{count}" in it):
  // the form the page's language takes for n.
  function counted(forms, n) {
    if (typeof forms === "string") return forms.replace("{count}", String(n));
    let category = "other";
    try { category = new Intl.PluralRules(document.documentElement.lang || "en").select(n); } catch (err) { /* old browser */ }
    return (forms[category] || forms.other || "").replace("{count}", String(n));
  }

  // One line of text (a cell code) that must not wrap: the font shrinks until it fits, down to
  // `min` of its CSS size.
  function fitLine(node, min) {
    node.style.fontSize = "";
    const full = parseFloat(getComputedStyle(node).fontSize);
    let size = full;
    while (node.scrollWidth > node.clientWidth && size > full * (min || 0.4)) {
      size -= 1;
      node.style.fontSize = size + "px";
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // Shared by the page scripts (station, handheld, receiving, putaway), loaded before them.
  // A flow's keys: only the keys its current state takes are shown (prompt.keys, or the page's
  // data-keys before the first prompt). The keypad opens the quantity key; sign-in and sign-out
  // at a station are the station's own. Buttons a page hides for its own reasons stay hidden.
  const OWN_KEYS = new Set(["sign_in", "sign_out"]);
  function showKeys(root, keys) {
    if (!root || !Array.isArray(keys)) return;
    root.dataset.keys = JSON.stringify(keys);
    const taken = new Set(keys.map(function (k) { return k.key; }));
    root.querySelectorAll("button[data-key]").forEach(function (button) {
      const name = button.dataset.key === "keypad" ? "quantity" : button.dataset.key;
      if (!OWN_KEYS.has(name)) button.classList.toggle("not-now", !taken.has(name));
    });
  }
  // The keys last shown again (after a page drew new buttons, such as a delivery's lines).
  function reshowKeys(root) {
    if (root && root.dataset.keys) showKeys(root, JSON.parse(root.dataset.keys));
  }

  window.cellwms = {
    play: play, csrfToken: csrfToken, call: call, el: el, showKeys: showKeys, reshowKeys: reshowKeys,
    uuid4: uuid4, inputQueue: inputQueue, counted: counted, fitLine: fitLine,
    postJson: function (url, body) { return call("POST", url, body); },
    getJson: function (url) { return call("GET", url); },
  };

  function setUpScanPage() {
    const form = document.getElementById("scan-form");
    if (!form) return;
    const input = document.getElementById("scan-input");
    const result = document.getElementById("scan-result");
    const show = function (sound, kind, message) {
      result.hidden = false;
      result.className = "result " + sound;
      result.querySelector(".kind").textContent = kind;
      result.querySelector(".message").textContent = message;
      play(sound);
    };
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const raw = input.value;
      input.value = "";
      input.focus();
      if (!raw) return;
      try {
        const response = await fetch(form.dataset.url, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRFToken": csrfToken(),
          },
          body: JSON.stringify({ code: raw, source: "page" }),
        });
        const body = await response.json().catch(function () { return {}; });
        if (response.ok) {
          const bad = body.kind === "unknown" || body.sound === "error";
          show(bad ? "error" : "ok", body.kind || "", body.message || "");
        } else {
          show("error", body.title || String(response.status), body.detail || body.message || "");
        }
      } catch (err) {
        show("error", "", form.dataset.noAnswer);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const sound = document.body.dataset.sound;
    if (sound) play(sound);
    // Browsers may start audio suspended until the first key or tap.
    const wake = function () { if (audio && audio.state === "suspended") audio.resume(); };
    document.addEventListener("keydown", wake, { once: true });
    document.addEventListener("pointerdown", wake, { once: true });
    const focused = document.querySelector("[autofocus]");
    if (focused) focused.focus();
    setUpScanPage();
  });
})();
