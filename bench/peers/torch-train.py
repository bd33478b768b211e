#!/usr/bin/env python3
"""`python3 torch-train.py HIDDEN [--threads N]`: chars/s of training the mLSTM char model in PyTorch on
the main bench's work (bench/suites/train.mjs): V=96, E=64, one mLSTM layer of H units, B=32, T=64, mean
cross-entropy, backward, gradients clipped to global norm 1 (clip_grad_norm_), torch.optim.Adam(lr=1e-3),
the detached state carried to the next window. One step = B·T = 2048 chars.

The model and its initialisation are python/mlstm_torch's (CharLM, init_like_mlstm: this project's PyTorch
package, written from the contract alone); the window's forward is written here, inline, with PyTorch's own
ops and autograd, float32: the input projections of all T steps hoisted before the loop (as mlstm does), then
per step the two recurrent products h·wmhᵀ and m·whmᵀ and mlstm_torch's gated_update. It was written inline
when CharLM.forward took each step of the hoisted projections as zx[t], whose backward (SelectBackward) adds
a zero-filled [T,B,4H] gradient per step, O(T²) work per window (70% of a step at H=256 by torch.profiler);
CharLM.forward now takes them with unbind(0) as this script does, so the two are the same computation.
Before timing, the inline forward is checked against CharLM.forward on the same weights (loss and every
gradient), so the peer trains the package's model.
"""
import sys

from torch_peer import CONFIG, describe_system, emit, fill_tokens, median_seconds, parse_blas_threads, parse_threads, samples_from_env, setup_threads

args = [a for a in sys.argv[1:]]
threads = parse_threads(args)
hidden = int(args[0]) if args and args[0].isdigit() else 256
torch = setup_threads(threads, parse_blas_threads(args, threads))
from torch.nn import functional as F  # noqa: E402 (after the thread set-up)
from mlstm_torch.model import CharLM, detach_state, gated_update, init_like_mlstm  # noqa: E402

V, E, B, T = CONFIG["vocab"], CONFIG["embed"], CONFIG["batch"], CONFIG["seq"]
torch.manual_seed(1)
model = CharLM("mlstm", V, E, hidden, 1)
init_like_mlstm(model, torch.Generator().manual_seed(1))
params = list(model.parameters())
optimizer = torch.optim.Adam(params, lr=1e-3)
tokens = torch.tensor(fill_tokens((T + 1) * B, V, 2), dtype=torch.long).view(T + 1, B)  # [T+1,B], time-major
inputs, targets = tokens[:T], tokens[1:].reshape(-1)  # [T,B], [T*B]
cell = model.layers[0]


def forward(tokens, state):
    """CharLM.forward for one mLSTM layer without dropout: tokens [T,B] -> logits [T,B,V], final state."""
    (h, c), = state
    xs = model.embed(tokens)  # [T,B,E]
    mx = (xs @ cell.wmx.T).unbind(0)  # T × [B,H]
    zx = (xs @ cell.whx.T + cell.bias).unbind(0)  # T × [B,4H]
    hs = []
    for t in range(tokens.shape[0]):
        m = mx[t] * (h @ cell.wmh.T)  # multiplicative intermediate state [B,H]
        h, c = gated_update(zx[t] + m @ cell.whm.T, c)
        hs.append(h)
    return model.head(torch.stack(hs)), [(h, c)]


def check_against_package():
    """The inline forward computes CharLM.forward: same loss, state and gradients (float32 rounding)."""
    results = []
    for run in (forward, model):
        model.zero_grad()
        logits, (hc,) = run(inputs, model.zero_state(B))
        loss = F.cross_entropy(logits.view(-1, V), targets)
        loss.backward()
        results.append((loss.item(), hc, [p.grad.clone() for p in params]))
    (mine, hc_mine, g_mine), (ref, hc_ref, g_ref) = results
    worst = max(float((a - b).norm() / b.norm()) for a, b in zip(g_mine, g_ref))
    if abs(mine - ref) > 1e-5 * abs(ref) or worst > 1e-4 or not torch.allclose(hc_mine[0], hc_ref[0], atol=1e-5):
        raise SystemExit(f"torch-train: the inline forward differs from CharLM.forward (loss {mine} vs {ref}, gradients {worst:.2e})")
    model.zero_grad()


check_against_package()
state = model.zero_state(B)
last_loss = float("nan")


def step():
    global state, last_loss
    optimizer.zero_grad()
    logits, new_state = forward(inputs, state)  # [T,B,V]
    loss = F.cross_entropy(logits.view(-1, V), targets)  # mean over the T·B predictions
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    state = detach_state(new_state)
    last_loss = loss.item()


seconds = median_seconds(step, min_samples=samples_from_env(5), max_time=1)
if not last_loss == last_loss:
    raise SystemExit(f"torch-train: loss is {last_loss}")
system, _ = describe_system(torch)
emit({"system": system, "what": f"mLSTM H={hidden} train", "chars_per_s": B * T / seconds, "step_ms": seconds * 1e3})
