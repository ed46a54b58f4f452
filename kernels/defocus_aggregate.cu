// DP student cost aggregation (models/defocus_matching.py, DefocusCostVolume, impl="cuda"), fused:
//   cost_c(y, x) = inv_noise[c] * box(err_c)(y, x),   c = f * J + j  (F aperture families, J hypotheses)
//   best[j] = min_f cost_{f, j},   worst[j] = max_f cost_{f, j}
// box = the (1 x win) then (win x 1) mean with edge replication, summed in the order torch's avg_pool2d sums
// (left to right, then top to bottom, each divided by win), so results match the torch path bit for bit.
// err [F*J, H, W] float32 (one image), inv_noise [F*J], best/worst [J, H, W]. Block (32, 8), tile 32 x 32,
// grid (ceil(W/32), ceil(H/32), J). win odd, <= DPLF_MAX_WIN.

#define DPLF_TILE 32
#define DPLF_ROWS 8
#define DPLF_MAX_WIN 31

extern "C" __global__ void defocus_box_min_max(const float* __restrict__ err, const float* __restrict__ inv_noise,
                                               int F, int J, int H, int W, int win, float* __restrict__ best,
                                               float* __restrict__ worst) {
    __shared__ float tile[DPLF_TILE + DPLF_MAX_WIN - 1][DPLF_TILE + DPLF_MAX_WIN];
    __shared__ float hsum[DPLF_TILE + DPLF_MAX_WIN - 1][DPLF_TILE];
    const int j = blockIdx.z;
    const int x0 = blockIdx.x * DPLF_TILE, y0 = blockIdx.y * DPLF_TILE;
    const int half = win / 2, th = DPLF_TILE + win - 1, tw = DPLF_TILE + win - 1;
    const int tid = threadIdx.y * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
    const float fwin = (float)win;
    float lo[DPLF_TILE / DPLF_ROWS], hi[DPLF_TILE / DPLF_ROWS];
    if (win > DPLF_MAX_WIN || (win & 1) == 0 || blockDim.x != DPLF_TILE || blockDim.y != DPLF_ROWS) return;
    for (int f = 0; f < F; ++f) {
        const int c = f * J + j;
        const float* src = err + (long long)c * H * W;
        __syncthreads();  // the previous family is done with tile and hsum
        for (int i = tid; i < th * tw; i += nthreads) {
            const int ty = i / tw, tx = i - (i / tw) * tw;
            const int gy = min(max(y0 + ty - half, 0), H - 1);
            const int gx = min(max(x0 + tx - half, 0), W - 1);
            tile[ty][tx] = src[(long long)gy * W + gx];
        }
        __syncthreads();
        for (int i = tid; i < th * DPLF_TILE; i += nthreads) {
            const int ty = i / DPLF_TILE, tx = i - (i / DPLF_TILE) * DPLF_TILE;
            float s = 0.0f;
            for (int k = 0; k < win; ++k) s = __fadd_rn(s, tile[ty][tx + k]);
            hsum[ty][tx] = __fdiv_rn(s, fwin);
        }
        __syncthreads();
        const float scale = inv_noise[c];
#pragma unroll
        for (int r = 0; r < DPLF_TILE / DPLF_ROWS; ++r) {
            const int ty = threadIdx.y + DPLF_ROWS * r;
            float s = 0.0f;
            for (int k = 0; k < win; ++k) s = __fadd_rn(s, hsum[ty + k][threadIdx.x]);
            const float v = __fmul_rn(__fdiv_rn(s, fwin), scale);
            lo[r] = f == 0 ? v : fminf(lo[r], v);
            hi[r] = f == 0 ? v : fmaxf(hi[r], v);
        }
    }
#pragma unroll
    for (int r = 0; r < DPLF_TILE / DPLF_ROWS; ++r) {
        const int y = y0 + threadIdx.y + DPLF_ROWS * r, x = x0 + threadIdx.x;
        if (y < H && x < W) {
            const long long o = ((long long)j * H + y) * W + x;
            best[o] = lo[r];
            worst[o] = hi[r];
        }
    }
}
