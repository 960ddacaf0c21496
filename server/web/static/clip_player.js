// Plays a packing clip recorded as MJPG in AVI, which browsers' <video> does not decode: the
// file's frames are JPEGs, shown one after another at the clip's frame rate, with play/pause and
// a position slider. The file played is the very file whose sha256 the evidence pack signs.
// Markup: <div class="clip-player" data-src="URL"><canvas></canvas> <button class="play"> <input
// type="range"> <span class="clip-time"></span></div>; data-frames / data-state tell tests and
// scripts how far it got.
(function () {
  "use strict";

  function fourcc(view, at) {
    return String.fromCharCode(view.getUint8(at), view.getUint8(at + 1), view.getUint8(at + 2), view.getUint8(at + 3));
  }

  // The JPEG frames ('00dc'/'00db' chunks) and microseconds per frame of a RIFF AVI; a file cut
  // short (a partial clip) gives the frames it has.
  function parseAvi(buffer) {
    const view = new DataView(buffer);
    const frames = [];
    let usPerFrame = 100000;
    if (buffer.byteLength < 12 || fourcc(view, 0) !== "RIFF" || fourcc(view, 8) !== "AVI ") {
      throw new Error("not an AVI file");
    }
    function walk(start, end) {
      let at = start;
      while (at + 8 <= end) {
        const id = fourcc(view, at);
        const size = view.getUint32(at + 4, true);
        const body = at + 8;
        if (id === "LIST" || id === "RIFF") {
          walk(body + 4, Math.min(body + size, end));
        } else if (id === "avih" && size >= 4) {
          usPerFrame = view.getUint32(body, true) || usPerFrame;
        } else if ((id === "00dc" || id === "00db") && size > 0 && body + size <= end) {
          frames.push(new Blob([new Uint8Array(buffer, body, size)], { type: "image/jpeg" }));
        }
        at = body + size + (size & 1);
      }
    }
    walk(12, buffer.byteLength);
    return { frames: frames, usPerFrame: usPerFrame };
  }

  function seconds(s) {
    const whole = Math.floor(s);
    return Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0");
  }

  function setUp(box) {
    const canvas = box.querySelector("canvas");
    const button = box.querySelector("button.play");
    const slider = box.querySelector("input[type=range]");
    const clock = box.querySelector(".clip-time");
    const words = { play: box.dataset.play || "Play", pause: box.dataset.pause || "Pause" };
    let clip = null, shown = -1, timer = null, drawing = Promise.resolve();

    function show(index) {
      if (!clip || index < 0 || index >= clip.frames.length) return;
      shown = index;
      slider.value = String(index);
      clock.textContent = seconds(index * clip.usPerFrame / 1e6) + " / " +
        seconds(clip.frames.length * clip.usPerFrame / 1e6);
      box.dataset.frame = String(index);
      drawing = drawing.then(function () {
        return createImageBitmap(clip.frames[index]).then(function (bitmap) {
          if (canvas.width !== bitmap.width) { canvas.width = bitmap.width; canvas.height = bitmap.height; }
          canvas.getContext("2d").drawImage(bitmap, 0, 0);
          bitmap.close();
        }, function () { /* a damaged frame: the previous one stays */ });
      });
    }

    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      button.textContent = words.play;
      box.dataset.state = "paused";
    }

    function play() {
      if (!clip || !clip.frames.length) return;
      if (shown >= clip.frames.length - 1) show(0);
      button.textContent = words.pause;
      box.dataset.state = "playing";
      timer = setInterval(function () {
        if (shown >= clip.frames.length - 1) { stop(); return; }
        show(shown + 1);
      }, Math.max(10, clip.usPerFrame / 1000));
    }

    button.addEventListener("click", function () { if (timer === null) play(); else stop(); });
    slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
    box.dataset.state = "loading";
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.arrayBuffer();
      })
      .then(function (buffer) {
        clip = parseAvi(buffer);
        box.dataset.frames = String(clip.frames.length);
        slider.max = String(Math.max(0, clip.frames.length - 1));
        button.disabled = clip.frames.length === 0;
        show(0);
        stop();
      })
      .catch(function (error) {
        box.dataset.state = "error";
        clock.textContent = String(error.message || error);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".clip-player[data-src]").forEach(setUp);
  });
})();
