#!/usr/bin/env python3
"""Check python/mlstm_torch against the golden fixtures (docs/CONTRACT.md "Fixture files") in float64
(cells, the char model, Adam/AdamW updates), and the safetensors reader/writer and checkpoint round trip.
Exit status 1 on any mismatch.

    selftest.py [FIXTURE_DIR]   (default: test/fixtures of the repository)
"""
import glob
import json
import math
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import torch  # noqa: E402

from mlstm_torch import Cell, CharLM, Vocab, load_checkpoint, save_checkpoint  # noqa: E402
from mlstm_torch.safetensors_io import read_safetensors, write_safetensors  # noqa: E402

TOL = 1e-10  # float64 against float64


def rel(a, ref):
    d = (a.double() - ref.double()).norm()
    n = ref.double().norm()
    return float(d / n) if n > 0 else float(d)


def cell_case(kind, t):
    wn = kind == "mlstm_wn"
    base = "mlstm" if wn else kind
    x = t["x"].clone().requires_grad_(True)
    T, B, D = x.shape
    H = t["h0"].shape[1]
    cell = Cell(base, D, H, wn).double()
    state = {k: v for k, v in t.items() if not k.startswith(("out.", "grad.")) and k not in ("x", "h0", "c0", "dh", "dc")}
    cell.load_state_dict(state)
    h0 = t["h0"].clone().requires_grad_(True)
    c0 = t["c0"].clone().requires_grad_(True) if "c0" in t else None
    hs, (h, c) = cell(x, (h0, c0))
    loss = (hs * t["dh"]).sum() + ((c * t["dc"]).sum() if c is not None else 0)
    loss.backward()
    errs = {"out.h": rel(hs, t["out.h"]), "out.loss": rel(loss.reshape(1), t["out.loss"])}
    named = dict(cell.named_parameters())
    for k in t:
        if k.startswith("grad."):
            name = k[5:]
            g = {"x": x, "h0": h0, "c0": c0}.get(name)
            g = g.grad if g is not None else named[name].grad
            errs[k] = rel(g, t[k])
    return errs


def charlm_case(t, meta):
    cfg = json.loads(meta["config"])
    model = CharLM("mlstm", cfg["vocab"], cfg["embed"], cfg["hidden"], cfg["layers"]).double()
    names = list(model.state_dict())
    model.load_state_dict({k: t[k] for k in names})
    tokens = t["tokens"].long()
    o = cfg["optimizer"]
    Opt = torch.optim.Adam if o["name"] == "adam" else torch.optim.AdamW
    opt = Opt(model.parameters(), lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"])
    errs = {}
    params = dict(model.named_parameters())
    for s in range(1, cfg["updates"] + 1):
        opt.zero_grad()
        logits, _ = model(tokens[:-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg["vocab"]), tokens[1:].reshape(-1))
        loss.backward()
        if s == 1:
            errs["out.loss"] = rel(loss.reshape(1), t["out.loss"])
            for n in names:
                errs["grad." + n] = rel(params[n].grad, t["grad." + n])
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_norm"])
        errs[f"step{s}.grad_norm"] = rel(norm.reshape(1), t[f"step{s}.grad_norm"])
        opt.step()
        for n in names:
            errs[f"step{s}.{n}"] = rel(params[n].detach() - t[n], t[f"step{s}.{n}"] - t[n])
    return errs


def roundtrip():
    """Writer → reader keeps bytes and metadata; a checkpoint round trip keeps every parameter."""
    errs = {}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "a.safetensors")
        src = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int32), "c": torch.randn(2, dtype=torch.float64),
               "e": torch.zeros(0, 3)}
        write_safetensors(p, src, {"k": "v"})
        back, meta = read_safetensors(p)
        errs["safetensors"] = 0.0 if meta == {"k": "v"} and all(torch.equal(src[k], back[k]) and src[k].dtype == back[k].dtype for k in src) else 1.0
        vocab = Vocab(["\n", " ", "a", "é", "\U0001F642"])
        model = CharLM("mlstm", vocab.size, 3, 4, 2, weight_norm=True)
        for q in model.parameters():
            torch.nn.init.normal_(q)
        p = os.path.join(d, "m.safetensors")
        save_checkpoint(p, model, vocab)
        loaded, v2, _ = load_checkpoint(p)
        same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
        errs["checkpoint"] = 0.0 if same and v2.symbols == vocab.symbols and loaded.config == model.config else 1.0
    return errs


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "test", "fixtures")
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        print(f"selftest: no fixtures in {folder}")
        return 1
    failed = False
    cases = [(os.path.basename(f), *read_safetensors(f)) for f in files]
    results = []
    for name, t, meta in cases:
        kind = meta["kind"]
        results.append((name, charlm_case(t, meta) if kind == "charlm" else cell_case(kind, t)))
    results.append(("roundtrip", roundtrip()))
    for name, errs in results:
        key, worst = max(errs.items(), key=lambda kv: kv[1])
        ok = worst <= TOL and not math.isnan(worst)
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(errs)} values, worst relative error {worst:.2e} ({key})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
