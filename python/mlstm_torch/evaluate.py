"""Bits per character (src/train/evaluate.ts) and dynamic evaluation (src/train/dynamic-eval.ts)."""
import math

import torch
from torch import nn

LN2 = math.log(2.0)


def eval_streams(n, batch):
    """(B, L) of `evaluate`: B = min(batch, n // 2) streams of L = n // B tokens."""
    if n < 2:
        raise ValueError(f"evaluate: need at least 2 tokens to score one prediction, got {n}")
    B = min(batch, n // 2)
    return B, n // B


@torch.no_grad()
def evaluate_nats(model, tokens, batch=1, seq=256, lo=0, hi=None):
    """Summed cross-entropy (nats, float64) of streams [lo, hi) of `evaluate`'s layout -> (sum, predictions).
    A rank of a distributed run scores its block of streams; the sums add up to the one-process result."""
    B, L = eval_streams(int(tokens.numel()), batch)
    hi = B if hi is None else min(hi, B)
    if lo >= hi:
        return 0.0, 0
    device = model.head.weight.device
    streams = tokens[: B * L].reshape(B, L)[lo:hi].T.contiguous().to(device)  # [L, hi-lo]
    scored = L - 1
    state = model.zero_state(hi - lo)
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, scored, seq):
        T = min(seq, scored - start)
        logits, state = model(streams[start: start + T], state)
        targets = streams[start + 1: start + T + 1]
        ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                         reduction="sum")
        if not torch.isfinite(ce):
            raise ValueError(f"evaluate: the model's loss is {float(ce)} at tokens {start}..{start + T} of each "
                             "stream (non-finite parameters?)")
        total += ce.to(torch.float64)
    return float(total), (hi - lo) * scored


def evaluate(model, tokens, batch=1, seq=256):
    """Mean cross-entropy of `tokens` with the state carried through each stream, as `mlstm eval`:
    B = min(batch, N // 2) contiguous streams of L = N // B tokens from a zero state (the last N - B*L
    tokens unused), each scoring its L - 1 next-token predictions; `seq` only sets the chunk size of a
    forward call. Dropout is off (no masks). Returns dict(bpc, nats, predictions, streams)."""
    was_training = model.training
    model.eval()
    try:
        B, _ = eval_streams(int(tokens.numel()), batch)
        total, predictions = evaluate_nats(model, tokens, batch, seq)
    finally:
        model.train(was_training)
    nats = total / predictions
    return {"bpc": nats / LN2, "nats": nats, "predictions": predictions, "streams": B}


def dynamic_evaluate(model, tokens, lr, seq=50, decay=0.0):
    """Dynamic evaluation (Krause et al. 2017, the SGD variant), as src/train/dynamic-eval.ts: the text
    is one sequence read in segments of `seq` tokens; each segment is scored with the current weights,
    then the weights take one SGD step on that segment's mean cross-entropy (nats), theta <- theta -
    lr*grad, optionally pulled back theta <- theta + decay*(theta_trained - theta); the state is carried
    (detached). The trained weights are restored before returning. -> dict(bpc, nats, predictions, segments)."""
    n = int(tokens.numel())
    if n < 2:
        raise ValueError(f"dynamic_evaluate: need at least 2 tokens to score one prediction, got {n}")
    if not (lr >= 0 and math.isfinite(lr)):
        raise ValueError(f"dynamic_evaluate: lr must be a finite number >= 0, got {lr}")
    if not 0 <= decay <= 1:
        raise ValueError(f"dynamic_evaluate: decay must be in [0, 1], got {decay}")
    params = list(model.parameters())
    trained = [p.detach().clone() for p in params]
    device = model.head.weight.device
    tokens = tokens.to(device)
    was_training = model.training
    model.eval()
    total, segments = 0.0, 0
    try:
        state = model.zero_state(1)
        for start in range(0, n - 1, seq):
            T = min(seq, n - 1 - start)
            inputs = tokens[start: start + T].reshape(T, 1)
            targets = tokens[start + 1: start + T + 1].reshape(T)
            for p in params:
                p.grad = None
            logits, new_state = model(inputs, state)
            loss = nn.functional.cross_entropy(logits.reshape(T, -1), targets)
            mean = float(loss)
            if not math.isfinite(mean):
                raise ValueError(f"dynamic_evaluate: loss became {mean} at segment {segments} (tokens "
                                 f"{start}..{start + T}); lower the learning rate")
            total += mean * T
            segments += 1
            loss.backward()
            with torch.no_grad():
                for p, p0 in zip(params, trained):
                    if p.grad is None:
                        continue
                    p.sub_(lr * p.grad)
                    if decay:
                        p.add_(decay * (p0 - p))
            state = [(h.detach(), None if c is None else c.detach()) for h, c in new_state]
    finally:
        with torch.no_grad():
            for p, p0 in zip(params, trained):
                p.copy_(p0)
                p.grad = None
        model.train(was_training)
    nats = total / (n - 1)
    return {"bpc": nats / LN2, "nats": nats, "predictions": n - 1, "segments": segments}
