// Raw DP / RGB -> normalised, padded NCHW float32, fused with edge-replicate padding.
// Semantics of kernels/preprocess.py: an integer plane's code x becomes lut[x], the table that
// kernels/levels.py builds for (dtype, black level, white level), so CPU and GPU give the same bits;
// float planes are copied; padding replicates the last row / column.
// Grid: (ceil(Wp/bx), ceil(Hp/by), 1). dp out [2, Hp, Wp]; rgb out [3, Hp, Wp]; rgb in [H, W, 3].

template <typename T>
__device__ __forceinline__ float dplf_norm(T x, const float* __restrict__ lut) { return lut[x]; }
template <>
__device__ __forceinline__ float dplf_norm<float>(float x, const float*) { return x; }

template <typename T>
__device__ void dplf_preprocess_dp(const T* __restrict__ left, const T* __restrict__ right, int H, int W, int Hp,
                                   int Wp, const float* __restrict__ lut, float* __restrict__ dp) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= Wp || y >= Hp) return;
    const int s = min(y, H - 1) * W + min(x, W - 1);
    const long long o = (long long)y * Wp + x;
    dp[o] = dplf_norm<T>(left[s], lut);
    dp[(long long)Hp * Wp + o] = dplf_norm<T>(right[s], lut);
}

template <typename T>
__device__ void dplf_preprocess_rgb(const T* __restrict__ rgb, int H, int W, int Hp, int Wp,
                                    const float* __restrict__ lut, float* __restrict__ out) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= Wp || y >= Hp) return;
    const int s = (min(y, H - 1) * W + min(x, W - 1)) * 3;
    const long long o = (long long)y * Wp + x, plane = (long long)Hp * Wp;
    for (int c = 0; c < 3; ++c) out[c * plane + o] = dplf_norm<T>(rgb[s + c], lut);
}

#define DPLF_PRE(SUFFIX, T)                                                                              \
    extern "C" __global__ void preprocess_dp_##SUFFIX(const T* left, const T* right, int H, int W, int Hp, \
                                                      int Wp, const float* lut, float* dp) {    \
        dplf_preprocess_dp<T>(left, right, H, W, Hp, Wp, lut, dp);                                       \
    }                                                                                                    \
    extern "C" __global__ void preprocess_rgb_##SUFFIX(const T* rgb, int H, int W, int Hp, int Wp,        \
                                                       const float* lut, float* out) {                  \
        dplf_preprocess_rgb<T>(rgb, H, W, Hp, Wp, lut, out);                                              \
    }

DPLF_PRE(u8, unsigned char)
DPLF_PRE(u16, unsigned short)
DPLF_PRE(f32, float)

// No RGB: (left + right) / 2 on all three channels, from the already padded dp [2, Hp, Wp].
extern "C" __global__ void preprocess_rgb_from_dp(const float* __restrict__ dp, int Hp, int Wp,
                                                  float* __restrict__ out) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= Wp || y >= Hp) return;
    const long long o = (long long)y * Wp + x, plane = (long long)Hp * Wp;
    const float m = __fmul_rn(__fadd_rn(dp[o], dp[plane + o]), 0.5f);
    for (int c = 0; c < 3; ++c) out[c * plane + o] = m;
}
