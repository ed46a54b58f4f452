/* dplf viewer, part 4 of 4: controls (pointer drag and click, keyboard, sliders, buttons), start-up, and the
   test hook window.dplfViewer = {ready, state, setView(u, v), refocusAt(x, y), ...}. */
DPLF.DRAG_PX = 4;   // a press that moves less than this (CSS pixels) is a click

DPLF.fail = function (err) {
  const msg = document.getElementById("msg");
  msg.textContent = `dplf viewer: ${err && err.message ? err.message : err}`;
  msg.className = "show error";
  console.error(msg.textContent);
};

DPLF.canvasPixel = function (canvas, clientX, clientY) {
  const r = canvas.getBoundingClientRect();
  return [(clientX - r.left) * canvas.width / r.width, (clientY - r.top) * canvas.height / r.height];
};

/* Drag: the viewpoint follows the pointer, a drag across the whole picture crosses the whole grid. Click:
   focus there. Pointer events cover mouse, pen and touch. */
DPLF.bindPointer = function (viewer) {
  const canvas = viewer.canvas, g = viewer.grid;
  let press = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    press = { x: e.clientX, y: e.clientY, u: viewer.state.u, v: viewer.state.v, dragging: false };
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!press) return;
    const dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (!press.dragging && Math.hypot(dx, dy) < DPLF.DRAG_PX) return;
    press.dragging = true;
    canvas.classList.add("dragging");
    const r = canvas.getBoundingClientRect();
    const spanU = g.us[g.U - 1] - g.us[0], spanV = g.vs[g.V - 1] - g.vs[0];
    viewer.setView(press.u + dx / r.width * spanU, press.v + dy / r.height * spanV);
  });
  const end = (e) => {
    if (!press) return;
    const wasDrag = press.dragging;
    press = null;
    canvas.classList.remove("dragging");
    if (!wasDrag && e.type === "pointerup") viewer.refocusAt(...DPLF.canvasPixel(canvas, e.clientX, e.clientY));
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
};

DPLF.bindKeys = function (viewer) {
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type === "range") return;   // the slider's own keys
    const s = viewer.state, step = viewer.grid.step;
    if (moves[e.key]) {
      const k = e.shiftKey ? 1 : 0.25;
      viewer.setView(s.u + moves[e.key][0] * k * (step[0] || 0), s.v + moves[e.key][1] * k * (step[1] || 0));
    } else if (e.key === " ") {
      s.playing = !s.playing;
      viewer.changed();
    } else {
      return;
    }
    e.preventDefault();
  });
};

DPLF.drawColorbar = function () {
  const bar = document.getElementById("colorbar");
  const ctx = bar.getContext("2d");
  for (let x = 0; x < bar.width; x++) {
    const [r, g, b] = DPLF.turbo(x / (bar.width - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, bar.height);
  }
  const d = DPLF.meta.disparity;
  document.getElementById("d-lo").textContent = `far ${d.lo.toFixed(2)} px`;
  document.getElementById("d-hi").textContent = `${d.hi.toFixed(2)} px near`;
};

DPLF.bindControls = function (viewer) {
  const $ = (id) => document.getElementById(id);
  const n = DPLF.meta.frames.length;
  const frame = $("frame"), aperture = $("aperture"), overlay = $("overlay"), play = $("play");
  frame.max = String(n - 1);
  frame.disabled = play.disabled = n < 2;
  aperture.max = String(viewer.grid.maxRadius);
  aperture.step = String(viewer.grid.maxRadius / 100 || 0.01);
  frame.addEventListener("input", () => {
    viewer.state.playing = false;
    viewer.setFrame(+frame.value).catch(DPLF.fail);
  });
  aperture.addEventListener("input", () => viewer.setAperture(+aperture.value));
  overlay.addEventListener("change", () => viewer.setOverlay(overlay.checked));
  play.addEventListener("click", () => { viewer.state.playing = !viewer.state.playing; viewer.changed(); });
  $("reset").addEventListener("click", () => {
    viewer.setAperture(0);
    viewer.setFocus(0);
    viewer.setView(...viewer.grid.centre);
  });
  DPLF.drawColorbar();
  DPLF.bindPointer(viewer);
  DPLF.bindKeys(viewer);
  viewer.onChange = (s) => {
    frame.value = String(s.frame);
    aperture.value = String(s.aperture);
    overlay.checked = s.overlay;
    play.textContent = s.playing ? "Pause" : "Play";
    $("colorbar-wrap").hidden = !s.overlay;
    $("frame-label").textContent = `frame ${s.index} (${s.frame + 1}/${n})${s.loading ? " loading..." : ""}`;
    const views = viewer.grid.weights(s.u, s.v, s.aperture).length;
    $("aperture-label").textContent = s.aperture <= DPLF.EPS ? "pinhole" :
      `radius ${s.aperture.toFixed(2)} (${views} view${views === 1 ? "" : "s"})`;
    $("readout").textContent =
      `view (u, v) = (${s.u.toFixed(3)}, ${s.v.toFixed(3)})   focus D = ${s.slope.toFixed(2)} px`;
  };
};

DPLF.start = function () {
  let running = null;
  const get = () => {
    if (!running) throw new Error("the viewer is not running (see the message on the page)");
    return running;
  };
  const redraw = (value) => { get().render(); return value; };
  const hook = {
    meta: DPLF.meta,
    get viewer() { return running; },
    get state() { return { ...get().state }; },
    get grid() { const g = get().grid; return { centre: g.centre, step: g.step, maxRadius: g.maxRadius }; },
    setView(u, v) { get().setView(u, v); return redraw({ ...get().state }); },
    setAperture(r) { get().setAperture(r); return redraw(get().state.aperture); },
    setFocus(d) { get().setFocus(d); return redraw(d); },
    setOverlay(on) { get().setOverlay(on); return redraw(get().state.overlay); },
    refocusAt(x, y) { return redraw(get().refocusAt(x, y)); },
    setFrame(k) { return get().setFrame(k); },
    play(on) { get().state.playing = !!on; get().changed(); return get().state.playing; },
    benchmark(n) { return get().benchmark(n); },
  };
  hook.ready = (async () => {
    const viewer = new DPLF.Viewer(DPLF.meta);
    DPLF.bindControls(viewer);
    running = viewer;
    await viewer.setFrame(0);
    requestAnimationFrame(viewer.loop);
    return true;
  })();
  hook.ready.catch(DPLF.fail);
  window.dplfViewer = hook;
};

DPLF.start();
