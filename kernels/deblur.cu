// Box blur of per-pixel real half-widths for `deblur` (semantics in kernels/deblur.py): out[y, x, :] = mean of the
// image over the box [y - ry, y + 1 + ry] x [x - rx, x + 1 + rx] (pixel-edge coordinates, clamped to the image),
// rx = half_x[y, x], ry = half_y[y, x], read from the image's summed-area table with bilinear interpolation (exact
// for the piecewise-constant image). table float64 [H+1, W+1, 3]; half_x, half_y float64 [H, W];
// out float64 [H, W, 3].
// Grid: (ceil(W/bx), ceil(H/by)). Same operation order as kernels/deblur_numba.py; no FMA contraction.

__device__ __forceinline__ void dplf_table_add(const double* __restrict__ table, int H, int W, double y, double x,
                                               double sign, double* acc) {
    const int iy = min((int)floor(y), H - 1), ix = min((int)floor(x), W - 1);
    const double ty = __dsub_rn(y, (double)iy), tx = __dsub_rn(x, (double)ix);
    const int W1 = W + 1;
    for (int k = 0; k < 3; ++k) {
        const double a = table[(iy * W1 + ix) * 3 + k], b = table[(iy * W1 + ix + 1) * 3 + k];
        const double c = table[((iy + 1) * W1 + ix) * 3 + k], d = table[((iy + 1) * W1 + ix + 1) * 3 + k];
        const double top = __dadd_rn(a, __dmul_rn(tx, __dsub_rn(b, a)));
        const double bottom = __dadd_rn(c, __dmul_rn(tx, __dsub_rn(d, c)));
        acc[k] = __dadd_rn(acc[k], __dmul_rn(sign, __dadd_rn(top, __dmul_rn(ty, __dsub_rn(bottom, top)))));
    }
}

extern "C" __global__ void deblur_box_blur(const double* __restrict__ table, const double* __restrict__ half_x,
                                           const double* __restrict__ half_y, int H, int W,
                                           double* __restrict__ out) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= W || y >= H) return;
    const double rx = half_x[y * W + x], ry = half_y[y * W + x];
    const double y0 = fmin(fmax((double)y - ry, 0.0), (double)H), y1 = fmin(fmax((double)(y + 1) + ry, 0.0), (double)H);
    const double x0 = fmin(fmax((double)x - rx, 0.0), (double)W), x1 = fmin(fmax((double)(x + 1) + rx, 0.0), (double)W);
    const double area = __dmul_rn(__dsub_rn(y1, y0), __dsub_rn(x1, x0));
    double acc[3] = {0.0, 0.0, 0.0};
    dplf_table_add(table, H, W, y1, x1, 1.0, acc);
    dplf_table_add(table, H, W, y0, x1, -1.0, acc);
    dplf_table_add(table, H, W, y1, x0, -1.0, acc);
    dplf_table_add(table, H, W, y0, x0, 1.0, acc);
    for (int k = 0; k < 3; ++k) out[(y * W + x) * 3 + k] = __ddiv_rn(acc[k], area);
}
