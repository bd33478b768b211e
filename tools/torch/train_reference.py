#!/usr/bin/env python3
"""`mlstm train`'s procedure in PyTorch, with the flags of the comparison in RESULTS.md: a thin entry point
on python/mlstm_torch/train.py (one process; see its docstring for the procedure).

    train_reference.py --data FILE [--valid FILE] [--cell ...] [--weight-norm] [--bytes] --hidden 128 --embed 32
        --layers 1 --batch 32 --seq 64 --steps 600 --lr 3e-3 --clip 1 --seed N [--optimizer adam|adamw]
        [--weight-decay X] [--schedule constant|linear|cosine] [--warmup N] [--init-from CKPT] [--save CKPT]
        [--json] [--threads N] [--log-every N]

Every flag is mlstm_torch.train's except --save CKPT (its --out; without it the checkpoint goes to a
temporary file that is removed). --init-from starts from a checkpoint's weights and vocabulary, e.g. the
exact initial model of `mlstm train` written by init_checkpoint.mjs.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

from mlstm_torch.train import main as train_main  # noqa: E402


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    scratch = None
    if "--save" in argv:
        argv[argv.index("--save")] = "--out"
    else:
        scratch = tempfile.mkdtemp(prefix="train-reference-")
        argv += ["--out", os.path.join(scratch, "model.safetensors")]
    try:
        return train_main(argv)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
