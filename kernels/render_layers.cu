// Layered light-field renderer: all P views of a frame in one launch.
//   view_p(x, y, c) = mean_r prod_l layers[l, r, c](x + b*planes[l]*u_p, y + b*planes[l]*v_p)
// Bilinear, border clamp (coordinate clamped to [0, W-1] x [0, H-1] before floor), d = b*planes[l]*u in
// float32; products in l order, sum over r in order, then * (1/R). uint8 = clip(rint(255 * view)).
// Same semantics as kernels/render_layers.py. layers: [L, R, 3, H, W] float32 or fp16 (raw bits);
// planes [L]; positions [P, 2] (u, v); out [P, H, W, 3]. Grid: (P, ceil(W/bx), ceil(H/by)). L <= 8.

#define DPLF_MAX_LAYERS 8

__device__ __forceinline__ float dplf_half_to_float(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short dplf_float_to_half(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float dplf_load(const float* p, long long i) { return __ldg(p + i); }
__device__ __forceinline__ float dplf_load(const unsigned short* p, long long i) {
    return dplf_half_to_float(__ldg(p + i));
}

__device__ __forceinline__ void dplf_store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void dplf_store(unsigned short* p, long long i, float v) { p[i] = dplf_float_to_half(v); }
__device__ __forceinline__ void dplf_store(unsigned char* p, long long i, float v) {
    int q = __float2int_rn(v * 255.0f);
    p[i] = (unsigned char)min(max(q, 0), 255);
}

template <typename TIn, typename TOut>
__device__ void dplf_render_layers(const TIn* __restrict__ layers, const float* __restrict__ planes,
                                   const float* __restrict__ positions, float baseline, int L, int R, int H,
                                   int W, int P, TOut* __restrict__ out) {
    // The view index is the fastest grid dimension: consecutive blocks render the same tile for every view,
    // so the layer tile (plus its parallax margin) is served from L2 instead of DRAM once per view.
    const int p = blockIdx.x;
    const int x = blockIdx.y * blockDim.x + threadIdx.x;
    const int y = blockIdx.z * blockDim.y + threadIdx.y;
    if (x >= W || y >= H || p >= P || L > DPLF_MAX_LAYERS) return;
    const float u = positions[2 * p], v = positions[2 * p + 1];
    int off00[DPLF_MAX_LAYERS], off01[DPLF_MAX_LAYERS], off10[DPLF_MAX_LAYERS], off11[DPLF_MAX_LAYERS];
    float wx[DPLF_MAX_LAYERS], wy[DPLF_MAX_LAYERS];
    for (int l = 0; l < L; ++l) {
        const float bp = __fmul_rn(baseline, planes[l]);
        float xs = __fadd_rn((float)x, __fmul_rn(bp, u));
        float ys = __fadd_rn((float)y, __fmul_rn(bp, v));
        xs = fminf(fmaxf(xs, 0.0f), (float)(W - 1));
        ys = fminf(fmaxf(ys, 0.0f), (float)(H - 1));
        const float fx0 = floorf(xs), fy0 = floorf(ys);
        const int x0 = (int)fx0, y0 = (int)fy0;
        const int x1 = min(x0 + 1, W - 1), y1 = min(y0 + 1, H - 1);
        wx[l] = xs - fx0;
        wy[l] = ys - fy0;
        off00[l] = y0 * W + x0;
        off01[l] = y0 * W + x1;
        off10[l] = y1 * W + x0;
        off11[l] = y1 * W + x1;
    }
    const long long plane = (long long)H * W;
    float acc[3] = {0.0f, 0.0f, 0.0f};
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < 3; ++c) {
            float prod = 1.0f;
            for (int l = 0; l < L; ++l) {
                const TIn* img = layers + ((long long)(l * R + r) * 3 + c) * plane;
                const float fx = wx[l], fy = wy[l];
                const float top = __fadd_rn(__fmul_rn(1.0f - fx, dplf_load(img, off00[l])),
                                            __fmul_rn(fx, dplf_load(img, off01[l])));
                const float bottom = __fadd_rn(__fmul_rn(1.0f - fx, dplf_load(img, off10[l])),
                                               __fmul_rn(fx, dplf_load(img, off11[l])));
                prod = __fmul_rn(prod, __fadd_rn(__fmul_rn(1.0f - fy, top), __fmul_rn(fy, bottom)));
            }
            acc[c] = __fadd_rn(acc[c], prod);
        }
    }
    const float inv_r = 1.0f / (float)R;
    const long long o = (((long long)p * H + y) * W + x) * 3;
    for (int c = 0; c < 3; ++c) dplf_store(out, o + c, acc[c] * inv_r);
}

#define DPLF_RENDER(NAME, TIN, TOUT)                                                                    \
    extern "C" __global__ void NAME(const TIN* layers, const float* planes, const float* positions,    \
                                    float baseline, int L, int R, int H, int W, int P, TOUT* out) {   \
        dplf_render_layers<TIN, TOUT>(layers, planes, positions, baseline, L, R, H, W, P, out);        \
    }

DPLF_RENDER(render_layers_f32_f32, float, float)
DPLF_RENDER(render_layers_f32_f16, float, unsigned short)
DPLF_RENDER(render_layers_f32_u8, float, unsigned char)
DPLF_RENDER(render_layers_f16_f32, unsigned short, float)
DPLF_RENDER(render_layers_f16_f16, unsigned short, unsigned short)
DPLF_RENDER(render_layers_f16_u8, unsigned short, unsigned char)

// ---- packed layout: layers [L, H, W, CP] with the L*R*3 channels of a pixel contiguous ((r, c) order, CP =
// 3R rounded up to a 16-byte multiple). One 16-byte load fetches 8 fp16 (or 4 fp32) channels of a tap, so a
// view pixel costs L * 4 * CP/8 loads instead of L * 4 * 3R. Same arithmetic, same order as above.
__device__ __forceinline__ float dplf_to_float(float v) { return v; }
__device__ __forceinline__ float dplf_to_float(unsigned short v) { return dplf_half_to_float(v); }

template <typename TIn, int R, typename TOut>
__device__ void dplf_render_packed(const TIn* __restrict__ layers, const float* __restrict__ planes,
                                   const float* __restrict__ positions, float baseline, int L, int H, int W,
                                   int P, TOut* __restrict__ out) {
    constexpr int C = 3 * R;
    constexpr int VEC = 16 / (int)sizeof(TIn);
    constexpr int CHUNKS = (C + VEC - 1) / VEC;
    constexpr int CP = CHUNKS * VEC;
    const int p = blockIdx.x;
    const int x = blockIdx.y * blockDim.x + threadIdx.x;
    const int y = blockIdx.z * blockDim.y + threadIdx.y;
    if (x >= W || y >= H || p >= P) return;
    const float u = positions[2 * p], v = positions[2 * p + 1];
    float prod[C];
#pragma unroll
    for (int i = 0; i < C; ++i) prod[i] = 1.0f;
    for (int l = 0; l < L; ++l) {
        const float bp = __fmul_rn(baseline, planes[l]);
        float xs = __fadd_rn((float)x, __fmul_rn(bp, u));
        float ys = __fadd_rn((float)y, __fmul_rn(bp, v));
        xs = fminf(fmaxf(xs, 0.0f), (float)(W - 1));
        ys = fminf(fmaxf(ys, 0.0f), (float)(H - 1));
        const float fx0 = floorf(xs), fy0 = floorf(ys);
        const int x0 = (int)fx0, y0 = (int)fy0;
        const int x1 = min(x0 + 1, W - 1), y1 = min(y0 + 1, H - 1);
        const float fx = xs - fx0, fy = ys - fy0;
        const long long base = (long long)l * H;
        const uint4* t00 = reinterpret_cast<const uint4*>(layers + ((base + y0) * W + x0) * CP);
        const uint4* t01 = reinterpret_cast<const uint4*>(layers + ((base + y0) * W + x1) * CP);
        const uint4* t10 = reinterpret_cast<const uint4*>(layers + ((base + y1) * W + x0) * CP);
        const uint4* t11 = reinterpret_cast<const uint4*>(layers + ((base + y1) * W + x1) * CP);
#pragma unroll
        for (int k = 0; k < CHUNKS; ++k) {
            const uint4 q00 = __ldg(t00 + k), q01 = __ldg(t01 + k), q10 = __ldg(t10 + k), q11 = __ldg(t11 + k);
            const TIn* a = reinterpret_cast<const TIn*>(&q00);
            const TIn* b = reinterpret_cast<const TIn*>(&q01);
            const TIn* e = reinterpret_cast<const TIn*>(&q10);
            const TIn* f = reinterpret_cast<const TIn*>(&q11);
#pragma unroll
            for (int j = 0; j < VEC; ++j) {
                const int ch = k * VEC + j;
                if (ch < C) {
                    const float top = __fadd_rn(__fmul_rn(1.0f - fx, dplf_to_float(a[j])),
                                                __fmul_rn(fx, dplf_to_float(b[j])));
                    const float bottom = __fadd_rn(__fmul_rn(1.0f - fx, dplf_to_float(e[j])),
                                                   __fmul_rn(fx, dplf_to_float(f[j])));
                    prod[ch] = __fmul_rn(prod[ch], __fadd_rn(__fmul_rn(1.0f - fy, top), __fmul_rn(fy, bottom)));
                }
            }
        }
    }
    float acc[3] = {0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int c = 0; c < 3; ++c) acc[c] = __fadd_rn(acc[c], prod[r * 3 + c]);
    const float inv_r = 1.0f / (float)R;
    const long long o = (((long long)p * H + y) * W + x) * 3;
    for (int c = 0; c < 3; ++c) dplf_store(out, o + c, acc[c] * inv_r);
}

#define DPLF_RENDER_PACKED(NAME, TIN, RANK, TOUT)                                                         \
    extern "C" __global__ void NAME(const TIN* layers, const float* planes, const float* positions,       \
                                    float baseline, int L, int H, int W, int P, TOUT* out) {              \
        dplf_render_packed<TIN, RANK, TOUT>(layers, planes, positions, baseline, L, H, W, P, out);         \
    }

DPLF_RENDER_PACKED(render_packed_f16_r12_u8, unsigned short, 12, unsigned char)
DPLF_RENDER_PACKED(render_packed_f16_r12_f32, unsigned short, 12, float)
DPLF_RENDER_PACKED(render_packed_f32_r12_u8, float, 12, unsigned char)
DPLF_RENDER_PACKED(render_packed_f32_r12_f32, float, 12, float)
DPLF_RENDER_PACKED(render_packed_f16_r4_u8, unsigned short, 4, unsigned char)
DPLF_RENDER_PACKED(render_packed_f16_r4_f32, unsigned short, 4, float)
DPLF_RENDER_PACKED(render_packed_f32_r4_u8, float, 4, unsigned char)
DPLF_RENDER_PACKED(render_packed_f32_r4_f32, float, 4, float)
