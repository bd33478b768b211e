#!/usr/bin/env python3
"""Score a text with an mlstm checkpoint in PyTorch, or dump its logits for a token sequence.

    eval_checkpoint.py CKPT FILE [--batch B] [--seq S] [--dtype float32|float64] [--json]
        bits per character of FILE, computed as `mlstm eval` does (B contiguous streams, default 1,
        state carried through each whole stream); prints `bpc X.XXXXXX` or a JSON object.
    eval_checkpoint.py CKPT [FILE] --dump-logits TOKENS_JSON [--dtype ...]
        TOKENS_JSON is a JSON array [T][B] of token ids (time-major); prints JSON
        {"shape": [T*B, V], "logits": [...]} with row t*B + b, computed from a zero state
        (and, when FILE is given, "evaluation": the --json result for FILE).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from charlm import evaluate, load_checkpoint  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("file", nargs="?")
    ap.add_argument("--batch", type=int, default=1, help="parallel streams, as `mlstm eval --batch` (default 1)")
    ap.add_argument("--seq", type=int, default=256, help="tokens per forward call (does not change the result)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float64", help="compute precision (default float64)")
    ap.add_argument("--dump-logits", metavar="TOKENS_JSON", help="print the logits for this [T][B] token array")
    ap.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = DTYPES[a.dtype]
    model, vocab, _ = load_checkpoint(a.checkpoint, dtype)

    if a.dump_logits is not None:
        tokens = torch.tensor(json.loads(a.dump_logits), dtype=torch.int64)
        if tokens.dim() != 2:
            ap.error(f"--dump-logits needs a [T][B] array, got {tokens.dim()} dimensions")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= vocab.size):
            ap.error(f"--dump-logits: token ids must be in [0, {vocab.size})")
        with torch.no_grad():
            logits, _ = model(tokens)
        V = logits.shape[-1]
        flat = logits.reshape(-1, V).to(torch.float64)
        out = {"shape": list(flat.shape), "logits": flat.reshape(-1).tolist()}
        if a.file is not None:  # both in one process (saves a torch start-up in tests)
            out["evaluation"] = evaluate(model, vocab.encode_file(a.file), batch=a.batch, seq=a.seq)
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
        return 0

    if a.file is None:
        ap.error("FILE is required unless --dump-logits is given")
    tokens = vocab.encode_file(a.file)
    started = time.perf_counter()
    result = evaluate(model, tokens, batch=a.batch, seq=a.seq)
    result["seconds"] = time.perf_counter() - started
    if a.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"bpc {result['bpc']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
