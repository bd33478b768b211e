#!/usr/bin/env python3
"""Score a text with a checkpoint or dump its logits: a thin entry point on python/mlstm_torch
(eval.py there; see its docstring).

    /usr/bin/python3 tools/torch/eval_checkpoint.py ...   is   PYTHONPATH=python /usr/bin/python3 -m mlstm_torch.eval ...
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

from mlstm_torch.eval import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
