"""`torchrun`, runnable as `python3 -m mlstm_torch.launch` with the same arguments, for one broken setup.

torch 1.13 (Debian 12's python3-torch) on Python 3.11 cannot start any job with torchrun: it fails with
"AttributeError: 'NoneType' object has no attribute 'get'" in elastic/multiprocessing/api.py, because
Python 3.11 no longer iterates the zero member of an IntFlag and `Std.from_str("0")` (the default of
--redirects and --tee) returns None. torch 2.0 fixed it. This module repairs that one function when it
is broken and then runs torch.distributed.run exactly as torchrun does; on any other torch it changes
nothing. Example (2 CPU processes):

    python3 -m mlstm_torch.launch --nproc_per_node 2 -m mlstm_torch.train --data FILE --out run.safetensors
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api


def _std_from_str(cls, vm):
    if re.fullmatch(r"\s*\d\s*", vm):
        return cls(int(vm))
    if re.fullmatch(r"\s*(\d+:\d\s*,\s*)*\d+:\d\s*", vm):
        return {int(i): cls(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
    raise ValueError(f"{vm} does not match a redirect value (e.g. 0) or mapping (e.g. 0:1,1:2)")


def repair():
    """Patch Std.from_str if this torch/Python pair has the bug; True when it did."""
    if api.Std.from_str("0") is None:
        api.Std.from_str = classmethod(_std_from_str)
        return True
    return False


def main(argv=None):
    repair()
    from torch.distributed.run import main as torchrun_main
    return torchrun_main(argv)


if __name__ == "__main__":
    sys.exit(main())
