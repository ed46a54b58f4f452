/* dplf viewer, part 2 of 4: the WebGL2 renderer. A frame's views are one TEXTURE_2D_ARRAY (a layer per view);
   one fragment shader blends the views in the current weight list, each shifted by its own offset:
     out(x, y) = sum_i w_i * view_i(x + sx_i, y + sy_i) / sum_i w_i
   which is the 4-neighbour blend of a pinhole viewpoint and the shift-and-add refocus alike. */
DPLF.VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;

DPLF.FRAGMENT = `#version 300 es
precision highp float;
precision highp sampler2DArray;
uniform sampler2DArray uViews;
uniform sampler2D uParams;  // one texel per view in the sum: layer, weight, shift x, shift y (pixels)
uniform sampler2D uDisp;    // D of the centre view, pixels
uniform int uCount;
uniform vec2 uSize;
uniform vec2 uView;         // viewpoint (u, v): the overlay looks D up where the centre view saw the point
uniform vec2 uRange;        // D of the colour map's ends
uniform float uOverlay;     // overlay opacity, 0 = off
out vec4 outColor;

vec3 turbo(float x) {
  const vec4 kr = vec4(0.13572138, 4.61539260, -42.66032258, 132.13108234);
  const vec4 kg = vec4(0.09140261, 2.19418839, 4.84296658, -14.18503333);
  const vec4 kb = vec4(0.10667330, 12.64194608, -60.58204836, 110.36276771);
  const vec2 kr2 = vec2(-152.94239396, 59.28637943);
  const vec2 kg2 = vec2(4.27729857, 2.82956604);
  const vec2 kb2 = vec2(-89.90310912, 27.34824973);
  x = clamp(x, 0.0, 1.0);
  vec4 v4 = vec4(1.0, x, x * x, x * x * x);
  vec2 v2 = v4.zw * v4.z;
  return clamp(vec3(dot(v4, kr) + dot(v2, kr2), dot(v4, kg) + dot(v2, kg2), dot(v4, kb) + dot(v2, kb2)), 0.0, 1.0);
}

float disparityAt(vec2 px) {
  ivec2 q = ivec2(clamp(floor(px), vec2(0.0), uSize - 1.0));
  return texelFetch(uDisp, q, 0).r;
}

void main() {
  vec2 px = vec2(gl_FragCoord.x, uSize.y - gl_FragCoord.y);  // pixel centre, y down, as in the images
  vec3 acc = vec3(0.0);
  float wsum = 0.0;
  for (int i = 0; i < uCount; i++) {
    vec4 p = texelFetch(uParams, ivec2(i, 0), 0);
    acc += p.y * texture(uViews, vec3((px + p.zw) / uSize, p.x)).rgb;
    wsum += p.y;
  }
  vec3 color = acc / max(wsum, 1e-6);
  if (uOverlay > 0.0) {
    float d = disparityAt(px);
    d = disparityAt(px + d * uView);  // I_(u,v)(x) = I_c(x + D (u, v)): one fixed-point step
    color = mix(color, turbo((d - uRange.x) / (uRange.y - uRange.x)), uOverlay);
  }
  outColor = vec4(color, 1.0);
}`;

DPLF.Renderer = class {
  constructor(canvas, meta) {
    const gl = canvas.getContext("webgl2", { preserveDrawingBuffer: true, antialias: false, alpha: false,
                                             premultipliedAlpha: false });
    if (!gl) throw new Error("this browser has no WebGL2 (enable hardware acceleration, or use a current Chrome, "
                             + "Firefox or Safari)");
    this.gl = gl;
    this.meta = meta;
    this.W = meta.width;
    this.H = meta.height;
    [this.V, this.U] = meta.grid;
    canvas.width = this.W;
    canvas.height = this.H;
    this.fit(canvas);
    window.addEventListener("resize", () => this.fit(canvas));
    const max = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    if (this.W > max || this.H > max) throw new Error(`views of ${this.W}x${this.H} exceed this GPU's texture `
                                                      + `limit ${max}; write the run with a smaller --max-size`);
    this.program = this.link(DPLF.VERTEX, DPLF.FRAGMENT);
    this.loc = {};
    for (const name of ["uViews", "uParams", "uDisp", "uCount", "uSize", "uView", "uRange", "uOverlay"]) {
      this.loc[name] = gl.getUniformLocation(this.program, name);
    }
    this.vao = gl.createVertexArray();
    this.params = this.texture(gl.TEXTURE_2D, gl.NEAREST);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA32F, this.V * this.U, 1);
  }

  /* Display size: as wide as the page allows, at most 70% of the window's height, the views' aspect kept. */
  fit(canvas) {
    const width = canvas.parentElement.clientWidth || this.W;
    const scale = Math.min(width / this.W, (0.7 * window.innerHeight) / this.H);
    canvas.style.width = `${Math.max(1, Math.floor(this.W * scale))}px`;
    canvas.style.height = `${Math.max(1, Math.floor(this.H * scale))}px`;
  }

  shader(type, source) {
    const gl = this.gl;
    const s = gl.createShader(type);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
    return s;
  }

  link(vs, fs) {
    const gl = this.gl;
    const p = gl.createProgram();
    gl.attachShader(p, this.shader(gl.VERTEX_SHADER, vs));
    gl.attachShader(p, this.shader(gl.FRAGMENT_SHADER, fs));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(p)}`);
    return p;
  }

  texture(target, filter) {
    const gl = this.gl;
    const t = gl.createTexture();
    gl.bindTexture(target, t);
    gl.texParameteri(target, gl.TEXTURE_MIN_FILTER, filter);
    gl.texParameteri(target, gl.TEXTURE_MAG_FILTER, filter);
    gl.texParameteri(target, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);   // = border replicate
    gl.texParameteri(target, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return t;
  }

  /* A decoded frame ({rgba atlas, disparity}) -> GPU textures {views, disp, bytes}. */
  upload(frame) {
    const gl = this.gl, W = this.W, H = this.H, U = this.U, V = this.V;
    const views = this.texture(gl.TEXTURE_2D_ARRAY, gl.LINEAR);
    gl.texStorage3D(gl.TEXTURE_2D_ARRAY, 1, gl.RGBA8, W, H, V * U);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.UNPACK_ROW_LENGTH, U * W);
    for (let r = 0; r < V; r++) {   // rows of views by offset (a 3D upload's skip rows must stay in one layer)
      const band = frame.rgba.subarray(r * H * U * W * 4, (r + 1) * H * U * W * 4);
      for (let c = 0; c < U; c++) {
        gl.pixelStorei(gl.UNPACK_SKIP_PIXELS, c * W);
        gl.texSubImage3D(gl.TEXTURE_2D_ARRAY, 0, 0, 0, r * U + c, W, H, 1, gl.RGBA, gl.UNSIGNED_BYTE, band);
      }
    }
    for (const p of [gl.UNPACK_ROW_LENGTH, gl.UNPACK_SKIP_PIXELS]) gl.pixelStorei(p, 0);
    const disp = this.texture(gl.TEXTURE_2D, gl.NEAREST);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, W, H, 0, gl.RED, gl.FLOAT, frame.disparity);
    const err = gl.getError();
    if (err !== gl.NO_ERROR) throw new Error(`frame ${frame.k}: texture upload failed (WebGL error ${err})`);
    return { views, disp, bytes: W * H * (4 * V * U + 4) };
  }

  release(gpu) {
    this.gl.deleteTexture(gpu.views);
    this.gl.deleteTexture(gpu.disp);
  }

  /* Draw `gpu` with `n` views: params = Float32Array [layer, weight, sx, sy] * n. */
  draw(gpu, params, n, view, overlay) {
    const gl = this.gl, loc = this.loc, d = this.meta.disparity;
    gl.viewport(0, 0, this.W, this.H);
    gl.useProgram(this.program);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, gpu.views);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.params);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, n, 1, gl.RGBA, gl.FLOAT, params, 0);
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, gpu.disp);
    gl.uniform1i(loc.uViews, 0);
    gl.uniform1i(loc.uParams, 1);
    gl.uniform1i(loc.uDisp, 2);
    gl.uniform1i(loc.uCount, n);
    gl.uniform2f(loc.uSize, this.W, this.H);
    gl.uniform2f(loc.uView, view[0], view[1]);
    gl.uniform2f(loc.uRange, d.lo, d.hi);
    gl.uniform1f(loc.uOverlay, overlay);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  /* Milliseconds per draw over `count` draws, waited for (a 1-pixel read forces the GPU to finish). */
  time(gpu, params, n, view, overlay, count) {
    const px = new Uint8Array(4);
    this.draw(gpu, params, n, view, overlay);
    this.gl.readPixels(0, 0, 1, 1, this.gl.RGBA, this.gl.UNSIGNED_BYTE, px);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) this.draw(gpu, params, n, view, overlay);
    this.gl.readPixels(0, 0, 1, 1, this.gl.RGBA, this.gl.UNSIGNED_BYTE, px);
    return (performance.now() - t0) / count;
  }
};
