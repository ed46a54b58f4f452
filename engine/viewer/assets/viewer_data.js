"use strict";
/* dplf viewer, part 1 of 4: the page's data (inline base64) decoded into pixels and disparity.
   Everything is inline because a page opened from file:// may not read the pixels of images beside it. */
const DPLF = {};
DPLF.meta = JSON.parse(document.getElementById("dplf-meta").textContent);

DPLF.base64Bytes = function (text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

DPLF.inflate = async function (bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
};

DPLF.scriptText = function (id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`viewer data ${id} is missing from the page; write it again with dplf view`);
  return el.textContent;
};

/* Frame k's atlas as RGBA bytes [V*H, U*W, 4] (decoded by the browser, no colour conversion). */
DPLF.decodeAtlas = async function (k) {
  const m = DPLF.meta;
  const [V, U] = m.grid;
  const blob = new Blob([DPLF.base64Bytes(DPLF.scriptText(`dplf-atlas-${k}`))], { type: m.image_type });
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const w = U * m.width, h = V * m.height;
  if (bitmap.width !== w || bitmap.height !== h) {
    throw new Error(`frame ${k}: atlas is ${bitmap.width}x${bitmap.height}, expected ${w}x${h}`);
  }
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return new Uint8Array(ctx.getImageData(0, 0, w, h).data.buffer);
};

/* Frame k's disparity D (centre view, pixels) as Float32Array [H * W]. */
DPLF.decodeDisparity = async function (k) {
  const m = DPLF.meta;
  const bytes = await DPLF.inflate(DPLF.base64Bytes(DPLF.scriptText(`dplf-disp-${k}`)));
  const n = m.width * m.height;
  if (bytes.length !== 2 * n) throw new Error(`frame ${k}: disparity has ${bytes.length} bytes, expected ${2 * n}`);
  const q = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const { lo, hi, levels } = m.disparity;
  const step = (hi - lo) / levels;
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = lo + q.getUint16(2 * i, true) * step;
  return d;
};

DPLF.loadFrame = async function (k) {
  const [rgba, disparity] = await Promise.all([DPLF.decodeAtlas(k), DPLF.decodeDisparity(k)]);
  return { k, rgba, disparity };
};

/* Colour map for the overlay and its bar: Google's Turbo, polynomial fit (same as the shader's). */
DPLF.turbo = function (x) {
  x = Math.min(1, Math.max(0, x));
  const x2 = x * x, x3 = x2 * x, x4 = x2 * x2, x5 = x4 * x;
  const r = 0.13572138 + 4.61539260 * x - 42.66032258 * x2 + 132.13108234 * x3 - 152.94239396 * x4 + 59.28637943 * x5;
  const g = 0.09140261 + 2.19418839 * x + 4.84296658 * x2 - 14.18503333 * x3 + 4.27729857 * x4 + 2.82956604 * x5;
  const b = 0.10667330 + 12.64194608 * x - 60.58204836 * x2 + 110.36276771 * x3 - 89.90310912 * x4 + 27.34824973 * x5;
  return [r, g, b].map((c) => Math.round(255 * Math.min(1, Math.max(0, c))));
};
