/* dplf viewer, part 3 of 4: the view grid, the viewer's state, frame cache and playback.
   Conventions: view (u, v) shows I_(u,v)(x, y) = I_c(x + D u, y + D v); focusing on disparity s shifts view
   (u_i, v_i) by -s (u_i - u, v_i - v) relative to the viewpoint (u, v). */
DPLF.EPS = 1e-6;
DPLF.CACHE_BYTES = 512e6;   // GPU memory for decoded frames; at least the shown frame and the next are kept

DPLF.Grid = class {
  constructor(meta) {
    [this.V, this.U] = meta.grid;
    this.pos = meta.positions;                                       // [[u, v]] row-major
    this.us = Array.from({ length: this.U }, (_, c) => this.pos[c][0]);
    this.vs = Array.from({ length: this.V }, (_, r) => this.pos[r * this.U][1]);
    this.centre = [(this.us[0] + this.us[this.U - 1]) / 2, (this.vs[0] + this.vs[this.V - 1]) / 2];
    this.maxRadius = Math.max(...this.pos.map(([u, v]) => Math.hypot(u - this.centre[0], v - this.centre[1])));
    const step = (a) => (a.length > 1 ? (a[a.length - 1] - a[0]) / (a.length - 1) : 0);
    this.step = [step(this.us), step(this.vs)];
  }

  clamp(u, v) {
    const c = (x, a) => Math.min(Math.max(x, a[0]), a[a.length - 1]);
    return [c(u, this.us), c(v, this.vs)];
  }

  /* [i0, i1, t]: x between axis[i0] and axis[i1] at fraction t. */
  static bracket(axis, x) {
    if (axis.length < 2) return [0, 0, 0];
    let i = 0;
    while (i < axis.length - 2 && axis[i + 1] <= x) i++;
    const t = (x - axis[i]) / (axis[i + 1] - axis[i]);
    return [i, i + 1, Math.min(1, Math.max(0, t))];
  }

  /* [[view index, weight]]: pinhole = bilinear between the 4 nearest views, else every view within radius. */
  weights(u, v, radius) {
    if (radius <= DPLF.EPS) {
      const [c0, c1, tu] = DPLF.Grid.bracket(this.us, u);
      const [r0, r1, tv] = DPLF.Grid.bracket(this.vs, v);
      const w = [[r0 * this.U + c0, (1 - tu) * (1 - tv)], [r0 * this.U + c1, tu * (1 - tv)],
                 [r1 * this.U + c0, (1 - tu) * tv], [r1 * this.U + c1, tu * tv]];
      return w.filter(([, x]) => x > DPLF.EPS);
    }
    const dist = this.pos.map(([pu, pv]) => Math.hypot(pu - u, pv - v));
    let inside = dist.map((d, i) => [i, d]).filter(([, d]) => d <= radius + DPLF.EPS);
    if (!inside.length) {   // no view that close (an even grid's centre): the nearest ones
      const nearest = Math.min(...dist);
      inside = dist.map((d, i) => [i, d]).filter(([, d]) => d <= nearest + DPLF.EPS);
    }
    return inside.map(([i]) => [i, 1]);
  }

  /* Float32Array of [layer, weight, sx, sy] for the shader, and the count. */
  params(u, v, radius, slope) {
    const w = this.weights(u, v, radius);
    const out = new Float32Array(4 * this.pos.length);
    w.forEach(([i, x], k) => out.set([i, x, -slope * (this.pos[i][0] - u), -slope * (this.pos[i][1] - v)], 4 * k));
    return { data: out, count: w.length };
  }
};

DPLF.Viewer = class {
  constructor(meta) {
    this.meta = meta;
    this.grid = new DPLF.Grid(meta);
    this.canvas = document.getElementById("lf");
    this.renderer = new DPLF.Renderer(this.canvas, meta);
    const [u, v] = this.grid.centre;
    this.state = { frame: 0, index: meta.frames[0], u, v, slope: 0, aperture: 0, overlay: false, playing: false,
                   loading: false };
    this.cache = new Map();   // frame position -> Promise of {gpu, disparity}
    this.shown = null;
    this.dirty = true;
    this.lastAdvance = 0;
    this.loop = this.loop.bind(this);
  }

  load(k) {
    if (!this.cache.has(k)) {
      this.cache.set(k, DPLF.loadFrame(k).then((f) => ({ k, gpu: this.renderer.upload(f), disparity: f.disparity })));
      this.evict(k);
    }
    return this.cache.get(k);
  }

  evict(keep) {
    const perFrame = this.meta.width * this.meta.height * (4 * this.grid.pos.length + 4);
    const room = Math.max(2, Math.floor(DPLF.CACHE_BYTES / perFrame));
    for (const k of this.cache.keys()) {
      if (this.cache.size <= room) break;
      if (k === keep || k === this.state.frame || (this.shown && k === this.shown.k)) continue;
      const entry = this.cache.get(k);
      this.cache.delete(k);
      entry.then((f) => this.renderer.release(f.gpu), () => {});  // failed loads were reported where awaited
    }
  }

  async setFrame(k) {
    const n = this.meta.frames.length;
    k = ((Math.round(k) % n) + n) % n;
    this.state.frame = k;
    this.state.index = this.meta.frames[k];
    this.state.loading = true;
    const f = await this.load(k);
    if (this.state.frame === k) {
      this.shown = f;
      this.state.loading = false;
      this.render();
      if (n > 1) this.load((k + 1) % n);   // decode the next frame ahead
    }
    return this.state.index;
  }

  setView(u, v) {
    [this.state.u, this.state.v] = this.grid.clamp(u, v);
    this.changed();
  }

  setAperture(r) {
    this.state.aperture = Math.min(Math.max(0, r), this.grid.maxRadius);
    this.changed();
  }

  setFocus(slope) {
    this.state.slope = slope;
    this.changed();
  }

  setOverlay(on) {
    this.state.overlay = !!on;
    this.changed();
  }

  /* D (pixels) of the point under canvas pixel (x, y): the median over a 5x5 window, found in the centre
     view (x_c = x + D u, a fixed point, two steps). */
  disparityAt(x, y) {
    const { width: W, height: H } = this.meta, d = this.shown.disparity;
    const at = (cx, cy) => {
      const vals = [];
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const qx = Math.min(W - 1, Math.max(0, Math.floor(cx) + dx));
          const qy = Math.min(H - 1, Math.max(0, Math.floor(cy) + dy));
          vals.push(d[qy * W + qx]);
        }
      }
      vals.sort((a, b) => a - b);
      return vals[vals.length >> 1];
    };
    let D = at(x, y);
    for (let i = 0; i < 2; i++) D = at(x + D * this.state.u, y + D * this.state.v);
    return D;
  }

  /* Focus on the point at canvas pixel (x, y); a pinhole aperture opens to half the full one, so it shows. */
  refocusAt(x, y) {
    if (!this.shown) throw new Error("no frame is shown yet");
    this.state.slope = this.disparityAt(x, y);
    if (this.state.aperture <= DPLF.EPS) this.state.aperture = this.grid.maxRadius / 2;
    this.changed();
    return this.state.slope;
  }

  changed() {
    this.dirty = true;
    if (this.onChange) this.onChange(this.state);
  }

  render() {
    if (!this.shown) return;
    const s = this.state;
    const p = this.grid.params(s.u, s.v, s.aperture, s.slope);
    this.renderer.draw(this.shown.gpu, p.data, p.count, [s.u, s.v], s.overlay ? 0.65 : 0);
    this.dirty = false;
    if (this.onChange) this.onChange(s);
  }

  loop(now) {
    const s = this.state, n = this.meta.frames.length;
    if (s.playing && !s.loading && n > 1 && now - this.lastAdvance >= 1000 / this.meta.fps) {
      this.lastAdvance = now;
      this.setFrame(s.frame + 1).catch((e) => DPLF.fail(e));
    }
    if (this.dirty) this.render();
    requestAnimationFrame(this.loop);
  }

  benchmark(count = 60) {
    const s = this.state;
    const p = this.grid.params(s.u, s.v, s.aperture, s.slope);
    return this.renderer.time(this.shown.gpu, p.data, p.count, [s.u, s.v], s.overlay ? 0.65 : 0, count);
  }
};

