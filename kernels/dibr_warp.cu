// Occlusion-aware DIBR; semantics in kernels/dibr.py (module docstring), step by step:
//   dibr_splat   (step 1) zbuf[p, ty, tx] = atomicMax(key), key = ordered(d) << 32 | (0xFFFFFFFF - src index)
//   dibr_resolve (step 2) visible pixels: Dt = D[winner], colour = bilinear clamped rgb(x + Dt*su, y + Dt*sv)
//   dibr_fill_*  (step 3) holes copy the colour of the nearest visible pixel (left, right, up, down) with the
//                smallest Dt (ties in that order); none -> backward warp with the source D. Writes out.
// rgb float32 [H, W, 3] in [0, 1]; disparity float32 [H, W]; positions [P, 2]; zbuf uint64 [P, H, W] zeroed;
// dt float32 [P, H, W]; colour float32 [P, H, W, 3]; out [P, H, W, 3]. Grid: (ceil(W/bx), ceil(H/by), P).

__device__ __forceinline__ unsigned int dplf_ordered_bits(float d) {
    const unsigned int b = __float_as_uint(d);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ void dplf_sample_rgb(const float* __restrict__ rgb, int H, int W, float xs, float ys,
                                                float* c3) {
    xs = fminf(fmaxf(xs, 0.0f), (float)(W - 1));
    ys = fminf(fmaxf(ys, 0.0f), (float)(H - 1));
    const float fx0 = floorf(xs), fy0 = floorf(ys);
    const int x0 = (int)fx0, y0 = (int)fy0;
    const int x1 = min(x0 + 1, W - 1), y1 = min(y0 + 1, H - 1);
    const float fx = xs - fx0, fy = ys - fy0;
    for (int c = 0; c < 3; ++c) {
        const float a = rgb[(y0 * W + x0) * 3 + c], b = rgb[(y0 * W + x1) * 3 + c];
        const float e = rgb[(y1 * W + x0) * 3 + c], f = rgb[(y1 * W + x1) * 3 + c];
        const float top = __fadd_rn(__fmul_rn(1.0f - fx, a), __fmul_rn(fx, b));
        const float bottom = __fadd_rn(__fmul_rn(1.0f - fx, e), __fmul_rn(fx, f));
        c3[c] = __fadd_rn(__fmul_rn(1.0f - fy, top), __fmul_rn(fy, bottom));
    }
}

extern "C" __global__ void dibr_splat(const float* __restrict__ disparity, const float* __restrict__ positions,
                                      float baseline, int H, int W, int P, unsigned long long* zbuf) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int p = blockIdx.z;
    if (x >= W || y >= H || p >= P) return;
    const float su = __fmul_rn(baseline, positions[2 * p]);
    const float sv = __fmul_rn(baseline, positions[2 * p + 1]);
    const int src = y * W + x;
    const float d = disparity[src];
    const float fx = floorf(__fadd_rn(__fsub_rn((float)x, __fmul_rn(d, su)), 0.5f));
    const float fy = floorf(__fadd_rn(__fsub_rn((float)y, __fmul_rn(d, sv)), 0.5f));
    if (!(fx >= 0.0f && fx < (float)W && fy >= 0.0f && fy < (float)H)) return;  // also rejects NaN
    const unsigned long long key =
        ((unsigned long long)dplf_ordered_bits(d) << 32) | (unsigned long long)(0xFFFFFFFFu - (unsigned int)src);
    atomicMax(zbuf + ((long long)p * H + (int)fy) * W + (int)fx, key);
}

extern "C" __global__ void dibr_resolve(const float* __restrict__ rgb, const float* __restrict__ disparity,
                                        const float* __restrict__ positions, float baseline, int H, int W, int P,
                                        const unsigned long long* __restrict__ zbuf, float* dt, float* colour) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int p = blockIdx.z;
    if (x >= W || y >= H || p >= P) return;
    const long long t = ((long long)p * H + y) * W + x;
    const unsigned long long key = zbuf[t];
    if (key == 0ull) return;  // hole: dibr_fill decides
    const unsigned int src = 0xFFFFFFFFu - (unsigned int)(key & 0xFFFFFFFFull);
    const float d = disparity[src];
    const float su = __fmul_rn(baseline, positions[2 * p]);
    const float sv = __fmul_rn(baseline, positions[2 * p + 1]);
    dt[t] = d;
    dplf_sample_rgb(rgb, H, W, __fadd_rn((float)x, __fmul_rn(d, su)), __fadd_rn((float)y, __fmul_rn(d, sv)),
                    colour + t * 3);
}

__device__ __forceinline__ void dplf_store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void dplf_store(unsigned char* p, long long i, float v) {
    p[i] = (unsigned char)min(max(__float2int_rn(v * 255.0f), 0), 255);
}

template <typename TOut>
__device__ void dplf_dibr_fill(const float* __restrict__ rgb, const float* __restrict__ disparity,
                               const float* __restrict__ positions, float baseline, int H, int W, int P,
                               const unsigned long long* __restrict__ zbuf, const float* __restrict__ dt,
                               const float* __restrict__ colour, TOut* __restrict__ out) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int p = blockIdx.z;
    if (x >= W || y >= H || p >= P) return;
    const long long base = (long long)p * H * W;
    const long long t = base + (long long)y * W + x;
    float c3[3];
    long long pick = -1;
    if (zbuf[t] != 0ull) {
        pick = t;
    } else {
        const int dxs[4] = {-1, 1, 0, 0}, dys[4] = {0, 0, -1, 1};  // left, right, up, down
        float best = 0.0f;
        for (int k = 0; k < 4; ++k) {
            int cx = x + dxs[k], cy = y + dys[k];
            while (cx >= 0 && cx < W && cy >= 0 && cy < H && zbuf[base + (long long)cy * W + cx] == 0ull) {
                cx += dxs[k];
                cy += dys[k];
            }
            if (cx < 0 || cx >= W || cy < 0 || cy >= H) continue;
            const long long q = base + (long long)cy * W + cx;
            if (pick < 0 || dt[q] < best) {  // strict: earlier direction wins ties
                pick = q;
                best = dt[q];
            }
        }
    }
    if (pick >= 0) {
        for (int c = 0; c < 3; ++c) c3[c] = colour[pick * 3 + c];
    } else {
        const float d = disparity[y * W + x];
        const float su = __fmul_rn(baseline, positions[2 * p]);
        const float sv = __fmul_rn(baseline, positions[2 * p + 1]);
        dplf_sample_rgb(rgb, H, W, __fadd_rn((float)x, __fmul_rn(d, su)), __fadd_rn((float)y, __fmul_rn(d, sv)), c3);
    }
    for (int c = 0; c < 3; ++c) dplf_store(out, t * 3 + c, c3[c]);
}

extern "C" __global__ void dibr_fill_f32(const float* rgb, const float* disparity, const float* positions,
                                         float baseline, int H, int W, int P, const unsigned long long* zbuf,
                                         const float* dt, const float* colour, float* out) {
    dplf_dibr_fill<float>(rgb, disparity, positions, baseline, H, W, P, zbuf, dt, colour, out);
}

extern "C" __global__ void dibr_fill_u8(const float* rgb, const float* disparity, const float* positions,
                                        float baseline, int H, int W, int P, const unsigned long long* zbuf,
                                        const float* dt, const float* colour, unsigned char* out) {
    dplf_dibr_fill<unsigned char>(rgb, disparity, positions, baseline, H, W, P, zbuf, dt, colour, out);
}
