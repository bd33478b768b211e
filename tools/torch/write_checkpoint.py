#!/usr/bin/env python3
"""Write a random PyTorch model as an mlstm checkpoint: a thin entry point on python/mlstm_torch
(write_random.py there; see its docstring).

    /usr/bin/python3 tools/torch/write_checkpoint.py ...   is   PYTHONPATH=python /usr/bin/python3 -m mlstm_torch.write_random ...
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

from mlstm_torch.write_random import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
