"""Issue 15's self-supervised direction, measured: fine-tune dp-disparity-v2's refinement UNet on the real Pixel 4
DEV DP pairs (001-006; never the holdout) with no labels: the predicted D must explain the pair through the
defocus model (1 - ZNCC of the cross-blurred views at D, linearly interpolated between 33 hypotheses at half
resolution) plus an edge-aware smoothness term. The matching stays fixed. An experiment, not a shipped recipe.

    python benchmarks/dp_selfsup_experiment.py MINUTES THREADS OUT.pt
    python benchmarks/dp_aggregation_variants.py --v2-weights OUT.pt        # its scores on the dev data
"""
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, torch, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
torch.manual_seed(0)
from models.architectures import build
from models.zncc_matching import ZnccDefocusMatching
from benchmarks.real_dp import find_pixel4
minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10
LAMBDA_S, SIGMA, LAMBDA_A = 0.05, 0.05, 0.0
ROOT = Path(__file__).resolve().parents[1]
caps = find_pixel4(ROOT.parent / "shared" / "data" / "pixel4_dp")   # DEV_CAPTURES only
model = build("dp-disparity-v2"); model.load_state_dict(torch.load(ROOT / "models" / "weights" / "dp-disparity-v2.pt"))
lossm = ZnccDefocusMatching(8.0, 33)   # half-res hypotheses, step 0.5
opt = torch.optim.Adam(model.refine.parameters(), lr=3e-4)
rng = np.random.default_rng(0)
def crop():
    c = caps[rng.integers(len(caps))]
    h, w = c.left.shape; s = 256
    y, x = rng.integers(0, h - s), rng.integers(0, w - s)
    l, r = c.left[y:y+s, x:x+s], c.right[y:y+s, x:x+s]
    if rng.random() < 0.5:   # mirror: left/right swap, D negates (handled by the model's symmetry of the data)
        l, r = r[:, ::-1], l[:, ::-1]
    return torch.from_numpy(np.stack([l, r])[None].copy())
def loss_cost(small):
    with torch.no_grad():
        return lossm.cost(small)[0]
def interp(cost, d):
    j = ((d - lossm.first) / lossm.step).clamp(0, cost.shape[1] - 1.001)
    j0 = j.floor().long(); t = j - j0
    return (1 - t) * cost.gather(1, j0) + t * cost.gather(1, j0 + 1)
t0 = time.time(); step = 0
model.train()
while time.time() - t0 < minutes * 60:
    dp = torch.cat([crop() for _ in range(4)])
    small = F.avg_pool2d(dp, 2)
    d, d0 = model.half_resolution(dp)
    cost = loss_cost(small)
    photo = interp(cost, d).mean()
    g = torch.log(small.mean(1, keepdim=True) + 0.01)
    sx = ((d[..., 1:] - d[..., :-1]).abs() * torch.exp(-(g[..., 1:] - g[..., :-1]).abs() / SIGMA)).mean()
    sy = ((d[..., 1:, :] - d[..., :-1, :]).abs() * torch.exp(-(g[..., 1:, :] - g[..., :-1, :]).abs() / SIGMA)).mean()
    loss = photo + LAMBDA_S * (sx + sy) + LAMBDA_A * (d - d0).abs().mean()
    opt.zero_grad(); loss.backward(); opt.step(); step += 1
    if step % 50 == 0:
        print(step, f"{time.time()-t0:.0f}s photo {float(photo):.4f} smooth {float(sx+sy):.4f}", flush=True)
model.eval()
torch.save(model.state_dict(), sys.argv[3] if len(sys.argv) > 3 else "selfsup.pt")
print("saved", step, "steps")
