#!/usr/bin/env python3
"""A straightforward PyTorch implementation of `mlstm train`, for comparing training quality.

    train_reference.py --data FILE [--valid FILE] [--cell mlstm|lstm|mrnn] [--weight-norm] [--bytes]
        --hidden 128 --embed 32 --layers 1 --batch 32 --seq 64 --steps 600 --lr 3e-3 --clip 1 --seed N
        [--optimizer adam|adamw] [--weight-decay X] [--schedule constant|linear|cosine] [--warmup N]
        [--init-from CKPT] [--save CKPT] [--json] [--threads N]

The same procedure as src/cli/train-command.ts + src/train/trainer.ts, step for step:
- vocabulary: the distinct code points of the whole --data text in code-point order (or bytes);
- split: the last ⌊0.05·N⌋ tokens are validation text unless --valid is given;
- B contiguous streams of ⌊N/B⌋ tokens; step k reads window k mod W (W = ⌊(L−1)/T⌋) of every
  stream; the hidden state is carried (detached) between windows and reset to zero at window 0;
- mean cross-entropy, backward, clip_grad_norm_ (PyTorch's coefficient), Adam/AdamW (β = 0.9, 0.999,
  ε = 1e-8) at the scheduled learning rate; a non-finite loss or gradient norm skips the update and
  keeps the carried state;
- validation bits/char every ⌈steps/5⌉ steps and at the end: B streams of the validation text, state
  carried through each whole stream (src/train/evaluate.ts with batch = --batch, seq = --seq).
Only the initial weights differ: drawn from the same distributions with PyTorch's RNG (or taken from
--init-from, e.g. the exact initial model of `mlstm train` written by init_checkpoint.mjs).
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from charlm import CharLM, Vocab, decode_text, detach_state, evaluate, init_like_mlstm, load_checkpoint, save_checkpoint  # noqa: E402

VALID_FRACTION = 0.05


def schedule_fn(kind, lr, steps, warmup):
    """lr for the 0-based update s, as src/optim/schedule.ts (floor 0) wired by train-command.ts."""
    span = max(1, steps - warmup)

    def inner(s):
        if kind == "constant":
            return lr
        if s >= span:
            return 0.0
        if kind == "linear":
            return lr + (0.0 - lr) * (s / span)
        return 0.5 * lr * (1 + math.cos(math.pi * s / span))

    if warmup <= 0:
        return inner
    return lambda s: inner(0) * (s + 1) / warmup if s < warmup else inner(s - warmup)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--valid")
    ap.add_argument("--cell", choices=["mlstm", "lstm", "mrnn"], default="mlstm")
    ap.add_argument("--weight-norm", action="store_true")
    ap.add_argument("--bytes", action="store_true")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--optimizer", choices=["adam", "adamw"], default="adam")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--schedule", choices=["constant", "linear", "cosine"], default="constant")
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-from", metavar="CKPT", help="start from this checkpoint's parameters (its vocabulary must match)")
    ap.add_argument("--save", metavar="CKPT", help="write the trained model in the contract's checkpoint format")
    ap.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--log-every", type=int, default=0)
    a = ap.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    started = time.perf_counter()

    with open(a.data, "rb") as f:
        data = f.read()
    vocab = Vocab(None) if a.bytes else Vocab.of_text(decode_text(data, a.data))
    tokens = vocab.encode_file(a.data)
    if a.valid:
        train, valid = tokens, vocab.encode_file(a.valid)
    else:
        n_valid = math.floor(len(tokens) * VALID_FRACTION)
        train, valid = tokens[: len(tokens) - n_valid], tokens[len(tokens) - n_valid :]

    if a.init_from:
        model, ck_vocab, _ = load_checkpoint(a.init_from)
        if ck_vocab.symbols != vocab.symbols:
            ap.error(f"--init-from {a.init_from}: its vocabulary differs from the one of --data")
        model.train()
    else:
        model = CharLM(a.cell, vocab.size, a.embed, a.hidden, a.layers, a.weight_norm)
        init_like_mlstm(model)
    params = list(model.parameters())
    Opt = torch.optim.Adam if a.optimizer == "adam" else torch.optim.AdamW
    opt = Opt(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
    lr_at = schedule_fn(a.schedule, a.lr, a.steps, a.warmup)

    B, T = a.batch, a.seq
    L = len(train) // B
    W = (L - 1) // T
    if W < 1:
        ap.error(f"the training text is shorter than one window ({len(train)} tokens, batch {B}, seq {T})")
    streams = train[: B * L].reshape(B, L).T.contiguous()  # [L,B]: column b is stream b
    valid_every = max(1, math.ceil(a.steps / 5))
    log_every = a.log_every or max(1, math.ceil(a.steps / 20))
    n_params = sum(p.numel() for p in params)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.cell} {a.layers}x{a.hidden} (embed {a.embed}, {n_params} parameters), "
          f"vocabulary {vocab.size}; {len(train)} training / {len(valid)} validation tokens; batch {B} x seq {T}, {a.steps} steps", flush=True)

    def validate():
        model.eval()
        r = evaluate(model, valid, batch=B, seq=T)
        model.train()
        return r["bpc"]

    state = None
    validations, train_bpc, skipped = [], [], 0
    for k in range(a.steps):
        w = k % W
        if w == 0:
            state = model.zero_state(B)
        inputs = streams[w * T : w * T + T]
        targets = streams[w * T + 1 : w * T + T + 1]
        opt.zero_grad(set_to_none=False)
        logits, new_state = model(inputs, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab.size), targets.reshape(-1))
        ok = bool(torch.isfinite(loss))
        if ok:
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, a.clip if a.clip > 0 else float("inf"))
            ok = bool(torch.isfinite(norm))
            if ok:
                for group in opt.param_groups:
                    group["lr"] = lr_at(k)
                opt.step()
                state = detach_state(new_state)
        skipped += not ok
        train_bpc.append(float(loss) / math.log(2))
        done = k + 1
        if done % log_every == 0 or done == a.steps:
            print(f"step {done}/{a.steps}: train bpc {train_bpc[-1]:.4f} ({time.perf_counter() - started:.1f} s)", flush=True)
        if done < a.steps and done % valid_every == 0:
            validations.append((done, validate()))
            print(f"step {done}: validation bpc {validations[-1][1]:.4f}", flush=True)
    validations.append((a.steps, validate()))
    seconds = time.perf_counter() - started
    print(f"done: {a.steps} steps in {seconds:.1f} s; validation bpc {validations[-1][1]:.4f}", flush=True)
    if a.save:
        save_checkpoint(a.save, model, vocab, extra_metadata={"writer": "tools/torch/train_reference.py"})
    if a.json:
        print(json.dumps({"valid_bpc": validations[-1][1], "validations": validations, "final_train_bpc": train_bpc[-1],
                          "skipped": skipped, "seconds": seconds, "threads": torch.get_num_threads(), "seed": a.seed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
