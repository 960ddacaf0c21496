// Station screen: wedge-scanner input, device job buttons, the live prompt (Server-Sent Events)
// and, with ?agent=URL, the local agent's offline queue.
(function () {
  "use strict";

  const RECENT = 12;

  const { el, postJson: post } = window.cellwms;

  function play(sound) {
    if (window.cellwms && (sound === "ok" || sound === "error")) window.cellwms.play(sound);
  }

  function setUp(root) {
    const T = JSON.parse(root.dataset.texts || "{}");
    const input = document.getElementById("station-input");
    const form = document.getElementById("station-scan");
    const promptBox = document.getElementById("prompt");
    const worker = document.getElementById("worker");
    const offline = document.getElementById("offline");
    let shownId = Number(root.dataset.lastId || 0);
    const answered = new Set(); // event_ids this page already showed from its own POST
    let receiving = null; // the dock's receiving panel, once mounted
    let packing = null; // the pack station's packing panel, once mounted

    function keepFocus() {
      if (document.activeElement !== input) input.focus();
    }

    // A device's detail made of problem names the server knows reads in the page's language.
    function problemText(detail) {
      const parts = detail.split(",").map(function (p) { return p.trim(); });
      if (!parts.every(function (p) { return (T.problems || {})[p]; })) return detail;
      // a printer pauses itself when out of paper or opened: the cause is what to fix
      const causes = parts.length > 1 ? parts.filter(function (p) { return p !== "paused"; }) : parts;
      return causes.map(function (p) { return T.problems[p]; }).join(", ");
    }

    function showPrompt(prompt, sound) {
      if (!prompt) return;
      promptBox.className = "prompt sound-" + (prompt.sound || "none");
      promptBox.querySelector(".prompt-title").textContent = prompt.title || "";
      promptBox.querySelector(".prompt-message").textContent = prompt.message || "";
      const details = promptBox.querySelector(".prompt-details");
      details.replaceChildren(...(prompt.details || []).map(function (d) { return el("li", "", d); }));
      if (prompt.state) window.cellwms.showKeys(root, prompt.keys);
      if ("user" in prompt) {
        worker.textContent = prompt.user || T.nobody;
        document.getElementById("sign-in-station").hidden = Boolean(prompt.user);
        document.getElementById("sign-out-station").hidden = !prompt.user;
      }
      const weight = document.getElementById("weight");
      if (weight && prompt.screen && prompt.screen.weight) {
        weight.textContent = prompt.screen.weight.value + " " + prompt.screen.weight.unit;
      }
      if (receiving && prompt.screen) receiving.update(prompt.screen);
      if (packing) packing.update(prompt);
      if (sound) play(prompt.sound);
    }

    function showProblem(message) {
      showPrompt({ title: "", message: message, sound: "error", details: [] }, true);
    }

    function addEvent(ev) {
      const list = document.getElementById("events");
      if (list.querySelector('[data-event-id="' + ev.id + '"]')) return;
      const item = el("li", "event sound-" + ((ev.prompt && ev.prompt.sound) || "none"));
      item.dataset.eventId = ev.id;
      // The server gives the time of day in the warehouse's zone, not the browser's.
      const time = el("time", "", ev.time || new Date().toLocaleTimeString([], { hour12: false }));
      time.dateTime = ev.received_at || "";
      item.append(time, " ", el("span", "event-kind", (T.events || {})[ev.kind] || ev.kind), " ",
        el("span", "event-message", ev.prompt ? ev.prompt.message : ""));
      list.prepend(item);
      while (list.children.length > RECENT) list.lastElementChild.remove();
    }

    function showJob(job) {
      const list = document.getElementById("jobs");
      let item = list.querySelector('[data-job-id="' + job.id + '"]');
      const fresh = !item;
      if (fresh) item = el("li");
      item.className = "job state-" + job.state;
      item.dataset.jobId = job.id;
      const template = job.payload && job.payload.template;
      const what = ((T.jobs || {})[job.kind] || job.kind) + (template ? " " + ((T.templates || {})[template] || template) : "");
      const parts = [el("span", "job-id", "#" + job.id), " ", el("span", "job-kind", what), " ",
        el("span", "job-state", (T.job_states || {})[job.state] || job.state)];
      if (job.result && job.result !== "done") parts.push(" ", el("span", "job-result", (T.results || {})[job.result] || job.result));
      item.replaceChildren(...parts);
      if (packing) packing.job(job);
      if (fresh) {
        // Newest first, by id.
        const after = Array.from(list.children).find(function (li) { return Number(li.dataset.jobId) < job.id; });
        list.insertBefore(item, after || null);
        while (list.children.length > RECENT) list.lastElementChild.remove();
      }
    }

    function showHealth(health) {
      const state = document.getElementById("health-state");
      state.className = "health state-" + health.state;
      state.textContent = (T.states || {})[health.state] || health.state;
      const devices = health.devices || {};
      if (packing) packing.health(devices);
      document.querySelectorAll("ul.devices").forEach(function (list) {
        const kinds = (list.dataset.kinds || "").split(" ").filter(Boolean);
        const items = Object.keys(devices).sort()
          .filter(function (name) { return !kinds.length || kinds.includes((devices[name] || {}).kind); })
          .map(function (name) {
            const d = devices[name] || {};
            const li = el("li", "device state-" + d.state);
            li.dataset.device = name;
            li.append(el("span", "name", (T.devices || {})[name] || name), " ",
              el("span", "state", (T.states || {})[d.state] || d.state || ""));
            if (d.detail) li.append(" ", el("span", "detail", problemText(d.detail)));
            return li;
          });
        list.replaceChildren(...(items.length ? items : [el("li", "device none", T.no_device)]));
      });
    }


    // Inputs in order, each sent again on its own until answered (same event_id): "sent, waiting".
    const waitingBox = document.getElementById("send-state");
    function waiting(on) {
      root.dataset.waiting = on ? "yes" : "no";
      waitingBox.hidden = !on;
    }
    const queue = window.cellwms.inputQueue(root.dataset.inputUrl, {
      onWaiting: function () { waiting(true); },
      onAnswered: function () { waiting(false); },
    });
    function sendInput(body) {
      const input = Object.assign({ event_id: window.cellwms.uuid4() }, body);
      answered.add(input.event_id); // its prompt may come by the stream before the answer
      return queue.send(input).then(function (r) {
        if (!r.ok) return showProblem(r.body.title || T.no_answer);
        if (r.body.prompt) showPrompt(r.body.prompt, true);
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const code = input.value;
      input.value = "";
      keepFocus();
      if (code.trim()) sendInput({ kind: "scan", code: code });
    });

    // A flow's panel (dock: receiving, pack: packing) draws itself from the prompts' screen data;
    // its keys go to the station's scenario like a scan.
    const panel = document.getElementById("receiving-panel") || document.getElementById("packing-panel");
    // A label or slip that did not print, queued again (pack panel): the new job, or null after the problem shows.
    async function reprint(jobId) {
      try {
        const r = await post(root.dataset.jobsUrl, { button: "reprint", job_id: jobId });
        if (!r.ok) { showProblem(r.body.title || T.no_answer); return null; }
        showJob(r.body);
        return r.body;
      } catch (err) {
        showProblem(T.no_answer);
        return null;
      }
    }
    const options = { send: sendInput, problem: showProblem, keepFocus: keepFocus, problemText: problemText,
                      reprint: reprint };
    receiving = panel && panel.id === "receiving-panel" && window.cellwmsReceiving
      ? window.cellwmsReceiving.mount(panel, options) : null;
    packing = panel && panel.id === "packing-panel" && window.cellwmsPacking
      ? window.cellwmsPacking.mount(panel, options) : null;
    root.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-key]");
      if (!button || (panel && panel.contains(button))) return;
      keepFocus();
      const body = { kind: "button", key: button.dataset.key };
      for (const [name, value] of Object.entries(button.dataset)) {
        if (name !== "key") body[name.replace(/[A-Z]/g, function (c) { return "_" + c.toLowerCase(); })] = value;
      }
      sendInput(body);
    });

    root.querySelectorAll(".job-button").forEach(function (button) {
      button.addEventListener("click", async function () {
        keepFocus();
        try {
          const r = await post(root.dataset.jobsUrl, { button: button.dataset.button });
          if (!r.ok) return showProblem(r.body.title || T.no_answer);
          showJob(r.body);
        } catch (err) {
          showProblem(T.no_answer);
        }
      });
    });

    // Gloved taps land anywhere: the scanner's keystrokes must still reach the input.
    document.addEventListener("click", function (event) {
      if (!event.target.closest("input, select, textarea, .bar, [data-keep-focus]")) keepFocus();
    });
    input.addEventListener("blur", function () {
      setTimeout(function () {
        const active = document.activeElement;
        if (!active || active === document.body || (root.contains(active) && !active.closest("input, select, textarea"))) keepFocus();
      }, 150);
    });
    keepFocus();

    // Live prompts from the database, whoever sent the input.
    let source = null;
    let offlineTimer = null;
    function connect() {
      source = new EventSource(root.dataset.streamUrl + "?after=" + shownId);
      source.addEventListener("open", function () {
        clearTimeout(offlineTimer);
        offline.hidden = true;
        root.dataset.live = "yes";
      });
      source.addEventListener("error", function () {
        root.dataset.live = "no";
        clearTimeout(offlineTimer);
        // A planned reconnect takes a moment; say "unreachable" only if it does not come back.
        offlineTimer = setTimeout(function () {
          if (source.readyState !== EventSource.OPEN) {
            offline.textContent = T.unreachable;
            offline.hidden = false;
          }
        }, 2500);
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(connect, 5000); // the browser gave up (e.g. an error page): try again ourselves
        }
      });
      source.addEventListener("prompt", function (message) {
        const ev = JSON.parse(message.data);
        if (ev.id <= shownId) return;
        shownId = ev.id;
        addEvent(ev);
        showPrompt(ev.prompt, !answered.has(ev.event_id));
        answered.delete(ev.event_id);
      });
      source.addEventListener("job", function (message) { showJob(JSON.parse(message.data)); });
      source.addEventListener("health", function (message) { showHealth(JSON.parse(message.data)); });
    }
    connect();

    // The local agent (?agent=http://127.0.0.1:PORT): its link and queue, even with the server away.
    const agent = root.dataset.agent;
    if (agent) {
      const status = document.getElementById("agent-status");
      const check = async function () {
        try {
          const response = await fetch(agent.replace(/\/$/, "") + "/status", { cache: "no-store" });
          const body = await response.json();
          status.hidden = false;
          status.className = "banner " + (body.online ? "banner-ok" : "banner-error");
          status.textContent = body.online ? T.agent_online
            : window.cellwms.counted(T.agent_offline, body.waiting || 0);
          root.dataset.agentOnline = body.online ? "yes" : "no";
        } catch (err) {
          status.hidden = false;
          status.className = "banner banner-error";
          status.textContent = T.agent_silent;
          root.dataset.agentOnline = "unknown";
        }
      };
      check();
      setInterval(check, 2000);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("station");
    if (root) setUp(root);
  });
})();
