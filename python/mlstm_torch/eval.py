"""Score a text with an mlstm checkpoint in PyTorch (as `mlstm eval`), or dump its logits.

    python3 -m mlstm_torch.eval CKPT FILE [--batch B] [--seq S] [--dtype float32|float64] [--json]
            [--dynamic [--dynamic-lr X] [--dynamic-seq N]]
        bits per character of FILE as `mlstm eval` computes it (B contiguous streams, default 1, state
        carried through each whole stream); with --dynamic also under dynamic evaluation (SGD, as
        `mlstm eval --dynamic`). Prints `bpc X.XXXX` (and `dynamic bpc X.XXXX`) or one JSON object.
        Characters outside the vocabulary read as U+FFFD when the model has it (and are counted).
    python3 -m mlstm_torch.eval CKPT [FILE] --dump-logits TOKENS_JSON [--dtype ...]
        TOKENS_JSON is a JSON array [T][B] of token ids (time-major); prints JSON
        {"shape": [T*B, V], "logits": [...]} with row t*B + b, computed from a zero state
        (and, when FILE is given, "evaluation": the --json result for FILE).
"""
import argparse
import json
import sys
import time

import torch

from .checkpoint import CheckpointError, load_checkpoint
from .evaluate import dynamic_evaluate, evaluate
from .safetensors_io import SafetensorsError
from .vocab import VocabularyError

DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEFAULT_DYNAMIC_LR = 0.02  # as `mlstm eval`
DEFAULT_DYNAMIC_SEQ = 50


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mlstm_torch.eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("file", nargs="?")
    ap.add_argument("--batch", type=int, default=1, help="parallel streams, as `mlstm eval --batch` (default 1)")
    ap.add_argument("--seq", type=int, default=256, help="tokens per forward call (does not change the result)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float64", help="compute precision (default float64)")
    ap.add_argument("--dynamic", action="store_true", help="also dynamic evaluation (Krause et al. 2017, SGD)")
    ap.add_argument("--dynamic-lr", type=float, default=DEFAULT_DYNAMIC_LR)
    ap.add_argument("--dynamic-seq", type=int, default=DEFAULT_DYNAMIC_SEQ)
    ap.add_argument("--dump-logits", metavar="TOKENS_JSON", help="print the logits for this [T][B] token array")
    ap.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    try:
        return run(ap, a)
    except (CheckpointError, SafetensorsError, VocabularyError, OSError, ValueError) as e:
        sys.stderr.write(f"mlstm_torch.eval: {e}\n")
        return 1


def run(ap, a):
    model, vocab, _ = load_checkpoint(a.checkpoint, DTYPES[a.dtype])
    if a.dump_logits is not None:
        tokens = torch.tensor(json.loads(a.dump_logits), dtype=torch.int64)
        if tokens.dim() != 2:
            ap.error(f"--dump-logits needs a [T][B] array, got {tokens.dim()} dimensions")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= vocab.size):
            ap.error(f"--dump-logits: token ids must be in [0, {vocab.size})")
        with torch.no_grad():
            logits, _ = model(tokens)
        flat = logits.reshape(-1, logits.shape[-1]).to(torch.float64)
        out = {"shape": list(flat.shape), "logits": flat.reshape(-1).tolist()}
        if a.file is not None:  # both in one process (saves a torch start-up in tests)
            out["evaluation"] = evaluate(model, vocab.encode_file(a.file).tokens, batch=a.batch, seq=a.seq)
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
        return 0

    if a.file is None:
        ap.error("FILE is required unless --dump-logits is given")
    encoded = vocab.encode_file(a.file)
    started = time.perf_counter()
    result = evaluate(model, encoded.tokens, batch=a.batch, seq=a.seq)
    result["unknown"] = encoded.unknown
    if a.dynamic:
        dyn = dynamic_evaluate(model, encoded.tokens, lr=a.dynamic_lr, seq=a.dynamic_seq)
        result.update({"dynamic_bpc": dyn["bpc"], "dynamic_nats": dyn["nats"],
                       "dynamic_predictions": dyn["predictions"]})
    result["seconds"] = time.perf_counter() - started
    if a.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"bpc {result['bpc']:.4f}")
        if a.dynamic:
            print(f"dynamic bpc {result['dynamic_bpc']:.4f}")
        if encoded.unknown:
            print(f"{encoded.unknown} characters not in the vocabulary were read as U+FFFD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
