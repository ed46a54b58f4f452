"""The DP student on the GPU: time and accuracy of its kernel choices (issue 4), same weights, same input.

    python benchmarks/gpu_dp_variants.py --json out.json

Variants: the cross-blur as cuDNN convolutions ("conv") or as one matrix product per view over a sliding
window ("matmul", pixel-major cost volume), or conv + the fused aggregation kernel ("cuda",
kernels/defocus_aggregate.cu); the matching in strict FP32 or FP16 (autocast); the
refinement always FP16. Each runs as the torch-cuda backend runs it (CUDA graph replay); times are CUDA-event
medians. Accuracy = disparity difference to the strict-FP32 conv variant (mean |dD| px, share > 0.5 px).
A torch.profiler table of the reference variant's top kernels at the largest size is printed last.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {  # name: (impl, matching fp32, allow tf32)
    "conv-fp32": ("conv", True, False),
    "conv-fp16": ("conv", False, False),
    "matmul-fp32": ("matmul", True, False),
    "cuda-fp32": ("cuda", True, False),
}


def dp_input(height: int, width: int):
    import torch

    from benchmarks.common import input_frame

    left, right, _, _ = input_frame(height, width)
    return torch.from_numpy(np.stack([left, right])[None]).float().cuda()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256x192,1920x1088")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    from benchmarks.common import parse_sizes
    from engine.backends.torch_cuda_backend import TorchCudaSession
    from models import students

    weights = torch.load(Path(__file__).resolve().parents[1] / "models/weights/dp-disparity-v1.pt",
                         weights_only=True)
    rows, ref = [], {}
    for h, w in parse_sizes(args.sizes):
        dp = dp_input(h, w)
        for name, (impl, fp32, tf32) in VARIANTS.items():
            model = students.build("dp-disparity-v1")
            model.load_state_dict(weights)
            model.matching.impl, model.matching.fp32 = impl, fp32
            sess = TorchCudaSession(model, ["dp"], ["disparity"], fp16=True, allow_tf32=tf32)
            out = sess.run_torch([dp])[0].clone()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            times = []
            for _ in range(args.repeats):
                start.record()
                sess.run_torch([dp])
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            ref.setdefault((h, w), out)
            err = (out - ref[(h, w)]).abs()
            rows.append({"variant": name, "height": h, "width": w, "ms": round(float(np.median(times)), 3),
                         "graph": sess.graph_error or "on", "mean_abs_dD_px": round(err.mean().item(), 5),
                         "share_over_0.5px": round((err > 0.5).float().mean().item(), 5)})
            print(f"{name:12} {h}x{w}: {rows[-1]['ms']:8.3f} ms  mean|dD| {rows[-1]['mean_abs_dD_px']:.4f} px  "
                  f">0.5px {100 * rows[-1]['share_over_0.5px']:.2f}%  graph {rows[-1]['graph']}", flush=True)
            del sess, model
    profile = ""
    for name in ("conv-fp32", "cuda-fp32"):
        impl, fp32, _ = VARIANTS[name]
        model = students.build("dp-disparity-v1").cuda().eval()
        model.load_state_dict(weights)
        model.matching.impl, model.matching.fp32 = impl, fp32
        with torch.inference_mode(), torch.autocast("cuda", torch.float16):
            model(dp)
            torch.cuda.synchronize()
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                model(dp)
                torch.cuda.synchronize()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=12, max_name_column_width=60)
        profile += f"\n== {name} at {tuple(dp.shape)} (eager)\n{table}"
    print(profile)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": torch.cuda.get_device_name(), "rows": rows,
                                               "profile": profile}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
