"""Defocus-aware DP matching: a fixed, physics-based cost volume for the DP-disparity student.

The two DP views are the centre image blurred by the two half-aperture kernels, which are mirror images,
not shifts of one another: left = k_L(D) * I, right = k_R(D) * I. Blurring each view with the OTHER view's
kernel makes them equal at the true D (convolution commutes): k_R(D) * left = k_L(D) * right. For apertures
that are a grid of views (docs/dp-format.md) the kernels are separable and their vertical parts are equal, so the test
needs only the horizontal part: 1-D kernels with taps at D*u for the aperture columns u.

The cost for each hypothesis D_j and aperture family f is |h_R * left - h_L * right| averaged over a window;
the families are the full aperture (A = 9 grid), the phone-like apertures (A = 3, A = 4) and the horizontal
marginal of a circular aperture; the cost takes the best-fitting family per hypothesis. Winner-take-all with
parabolic sub-pixel refinement gives the initial D. All fixed weights: ONNX opset 17 standard ops.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.conventions import APERTURE_RADIUS, half_aperture_weights, lf_view_u


def grid_family(aperture: int) -> tuple[np.ndarray, np.ndarray]:
    """(u positions, left weights) of the columns of an A-wide view-grid aperture."""
    offsets = np.arange(aperture) - (aperture - 1) / 2.0
    return np.array([lf_view_u(k, aperture) for k in offsets]), half_aperture_weights(aperture)


def disc_family(samples: int = 33) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal marginal of a circular aperture of radius APERTURE_RADIUS, split into halves."""
    u = np.linspace(-APERTURE_RADIUS, APERTURE_RADIUS, samples)
    chord = np.sqrt(np.clip(APERTURE_RADIUS ** 2 - u ** 2, 0, None))
    w = np.where(u < 0, chord, 0.0)
    w[np.isclose(u, 0)] = 0.5 * chord[np.isclose(u, 0)]
    return u, w


FAMILIES = {"grid9": lambda: grid_family(9), "grid3": lambda: grid_family(3), "grid4": lambda: grid_family(4),
            "disc": disc_family}


def tap_kernels(hypotheses: np.ndarray, family: tuple[np.ndarray, np.ndarray], radius: int) -> tuple[np.ndarray, np.ndarray]:
    """1-D correlation kernels h_L, h_R [J, 2*radius+1] (taps at D*u, bilinear split, normalised)."""
    u, w_left = family
    w_right = w_left[::-1]
    size = 2 * radius + 1
    kl = np.zeros((len(hypotheses), size))
    kr = np.zeros_like(kl)
    for j, d in enumerate(hypotheses):
        for uu, wl, wr in zip(u, w_left, w_right):
            pos = d * uu + radius
            i0 = int(np.floor(pos))
            f = pos - i0
            for k, wt in ((kl, wl), (kr, wr)):
                if wt:
                    k[j, i0] += wt * (1 - f)
                    if f > 0:
                        k[j, i0 + 1] += wt * f
    kl /= kl.sum(1, keepdims=True)
    kr /= kr.sum(1, keepdims=True)
    return kl, kr


class DefocusCostVolume(nn.Module):
    """dp [N, 2, H, W] -> (D0 [N, 1, H, W] px, features [N, 3, H, W]: min cost, curvature, family spread).

    Args:
        max_disparity: hypotheses span [-max, max] px in steps of `step`.
        window: side of the square cost-aggregation window.
    """

    def __init__(self, max_disparity: float = 16.0, step: float = 1.0, window: int = 15,
                 families: tuple[str, ...] = ("grid9", "grid3", "grid4", "disc")):
        super().__init__()
        hyps = np.arange(-max_disparity, max_disparity + 1e-6, step)
        u_max = max(np.abs(FAMILIES[f]()[0]).max() for f in families)
        self.radius = int(np.ceil(max_disparity * u_max)) + 1
        kls, krs = zip(*(tap_kernels(hyps, FAMILIES[f](), self.radius) for f in families))
        # left is blurred with the right kernels, right with the left kernels
        self.register_buffer("k_for_left", torch.tensor(np.concatenate(krs), dtype=torch.float32)[:, None, None])
        self.register_buffer("k_for_right", torch.tensor(np.concatenate(kls), dtype=torch.float32)[:, None, None])
        # noise std of the residual per hypothesis: blurrier hypotheses average noise away, which without
        # this normalisation biases the estimate towards large |D| on noisy, low-parallax captures
        kl_all, kr_all = np.concatenate(kls), np.concatenate(krs)
        noise = np.sqrt((kl_all ** 2).sum(1) + (kr_all ** 2).sum(1))
        self.register_buffer("inv_noise", torch.tensor(1.0 / noise, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("hypotheses", torch.tensor(hyps, dtype=torch.float32).view(1, -1, 1, 1))
        self.families, self.num_hyps, self.window, self.step = len(families), len(hyps), window, step

    #: "conv": convolutions + pooling in NCHW (what ONNX export uses); "matmul": the blur as one matrix product
    #: per view over a sliding window (pixel-major cost volume; 2x faster on a CPU, slower on an H100); "cuda":
    #: conv blur + kernels/defocus_aggregate.cu for box filter, noise scale and family min/max (GPU only).
    impl: str = "conv"
    #: FP32 even under autocast: the residual at the true D is at noise level, FP16 can cancel it away.
    fp32: bool = True

    def forward(self, dp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.fp32:
            return self._match(dp)
        with torch.autocast(device_type=dp.device.type, enabled=False):
            d0, feats = self._match(dp.float())
        return d0.to(dp.dtype), feats.to(dp.dtype)   # an FP16 model (the .fp16.onnx export) gets FP16 back

    def _match(self, dp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, _, h, w = dp.shape
        # exposure-invariant: a global scale only (a spatially varying one would break k_R*L = k_L*R)
        scale = dp.mean(dim=(1, 2, 3), keepdim=True) + 0.02
        x = F.pad(dp / scale, (self.radius, self.radius, 0, 0), mode="replicate")
        half = self.window // 2
        if self.impl == "matmul":
            k = 2 * self.radius + 1
            kl = self.k_for_left.view(-1, k).t().to(x.dtype)       # [K, F*J]
            kr = self.k_for_right.view(-1, k).t().to(x.dtype)
            a = x[:, 0].unfold(2, k, 1) @ kl                        # [N, H, W, F*J]
            b = x[:, 1].unfold(2, k, 1) @ kr
            err = (a - b).abs_().permute(0, 3, 1, 2)                # NCHW view, channels-last memory
        else:
            a = F.conv2d(x[:, 0:1], self.k_for_left.to(x.dtype))
            b = F.conv2d(x[:, 1:2], self.k_for_right.to(x.dtype))
            err = (a - b).abs()
        if self.impl == "cuda":   # the same box / noise / min-max as below, fused in one kernel
            best, worst = self._aggregate_cuda(err.float().contiguous())
        else:
            err = F.pad(err, (half,) * 4, mode="replicate")
            cost = F.avg_pool2d(F.avg_pool2d(err, (1, self.window), 1), (self.window, 1), 1)  # separable box
            cost = (cost * self.inv_noise.to(x.dtype)).reshape(n, self.families, self.num_hyps, h, w)
            best, worst = cost.min(1).values, cost.max(1).values    # [N, J, H, W]
        idx = best.argmin(1, keepdim=True).clamp(1, self.num_hyps - 2)
        c0 = best.gather(1, idx - 1)
        c1 = best.gather(1, idx)
        c2 = best.gather(1, idx + 1)
        curv = c0 - 2 * c1 + c2
        sub = (0.5 * (c0 - c2) / curv.clamp_min(1e-6)).clamp(-1, 1)
        d0 = self.hypotheses.view(-1)[0].to(sub.dtype) + (idx.to(sub.dtype) + sub) * self.step
        spread = (worst - best).gather(1, idx)
        feats = torch.cat([c1, curv, spread], 1) * 10.0
        return d0, feats


    def _aggregate_cuda(self, err: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """err [N, F*J, H, W] CUDA float32 -> (best, worst) [N, J, H, W] via kernels/defocus_aggregate.cu,
        launched on torch's current stream (so a CUDA graph captures it)."""
        import cupy

        from kernels import cuda as kernels_cuda

        n, _, h, w = err.shape
        best = torch.empty(n, self.num_hyps, h, w, device=err.device, dtype=torch.float32)
        worst = torch.empty_like(best)
        with cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream):
            noise = cupy.from_dlpack(self.inv_noise.reshape(-1).contiguous())
            for i in range(n):
                kernels_cuda.defocus_box_min_max(cupy.from_dlpack(err[i]), noise, self.families, self.window,
                                                 cupy.from_dlpack(best[i]), cupy.from_dlpack(worst[i]))
        return best, worst
