"""What the PyTorch peer scripts share: the thread set-up, the BLAS check, the sampling, the seeded
inputs and the result row. Python's side of bench/peers/lib.mjs and bench/lib/sampling.mjs.

Threads: PyTorch's own ops run on its OpenMP pool (torch.set_num_threads), but its float32 matrix
products call the system BLAS, and Debian's OpenBLAS (libopenblas0-pthread) keeps a pthread pool of its
own that torch.set_num_threads does not resize: without OPENBLAS_NUM_THREADS it starts one thread per
CPU whatever torch was told. `setup_threads(n)` therefore sets both pools to n, before torch is imported
(OpenBLAS reads the variable when it is loaded), and `describe_system()` reads back what each pool says.
"""
import ctypes
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# This project's PyTorch package (python/mlstm_torch): the peer trains its model, not a copy.
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

# The work, identical to the main bench's train suite (bench/suites/train.mjs) and bench/peers/lib.mjs.
CONFIG = {"vocab": 96, "embed": 64, "batch": 32, "seq": 64}


def parse_threads(argv):
    """`--threads N` (default 1) from argv."""
    if "--threads" in argv:
        at = argv.index("--threads")
        if at + 1 >= len(argv) or not argv[at + 1].isdigit() or int(argv[at + 1]) < 1:
            raise SystemExit(f"{os.path.basename(sys.argv[0])}: --threads needs a positive integer")
        return int(argv[at + 1])
    return 1


def parse_blas_threads(argv, threads):
    """`--blas-threads M` (default: the same as --threads)."""
    if "--blas-threads" in argv:
        at = argv.index("--blas-threads")
        if at + 1 >= len(argv) or not argv[at + 1].isdigit() or int(argv[at + 1]) < 1:
            raise SystemExit(f"{os.path.basename(sys.argv[0])}: --blas-threads needs a positive integer")
        return int(argv[at + 1])
    return threads


def setup_threads(n, blas=None):
    """torch's pool to n threads and OpenBLAS's to `blas` (default n); imports and returns torch (so
    nothing imports it earlier)."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["OPENBLAS_NUM_THREADS"] = str(n if blas is None else blas)
    import torch

    torch.set_num_threads(n)
    return torch


def _loaded_libraries(*needles):
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if any(n in line for n in needles) and "/" in line})


def blas_info():
    """What BLAS this process really loaded (from /proc/self/maps) and, for OpenBLAS, its own report."""
    libraries = _loaded_libraries("blas")
    info = {"blas_libraries": libraries}
    openblas = next((p for p in libraries if "openblas" in os.path.basename(p)), None)
    if openblas is not None:
        lib = ctypes.CDLL(openblas)
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        info.update(
            openblas_config=lib.openblas_get_config().decode(),
            openblas_core=lib.openblas_get_corename().decode(),
            openblas_threads=lib.openblas_get_num_threads(),
        )
    return info


def describe_system(torch):
    """The system column: torch version, BLAS and both thread counts (after a product has loaded BLAS)."""
    torch.ones(8, 8) @ torch.ones(8, 8)
    info = blas_info()
    blas = info.get("openblas_config", "no OpenBLAS loaded: " + ", ".join(info["blas_libraries"]))
    blas = " ".join(blas.split()[:2])  # "OpenBLAS 0.3.21"
    core = f" {info['openblas_core']}" if "openblas_core" in info else ""
    threads = f"torch ×{torch.get_num_threads()}, BLAS ×{info.get('openblas_threads', '?')}"
    return f"PyTorch {torch.__version__} + {blas}{core} ({threads})", info


def median_seconds(fn, min_samples, max_time, min_sample_time=0.05):
    """Median seconds per call of `fn`, sampled the way benchmark.js does for the JS peers: one untimed
    call first (the warm-up), then samples until there are min_samples of them AND max_time seconds
    have passed; a sample times as many back-to-back calls as fill min_sample_time (one, for a
    training step), so the clock's resolution never matters."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    calls = max(1, int(min_sample_time / once))
    samples = []
    began = time.perf_counter()
    while len(samples) < min_samples or time.perf_counter() - began < max_time:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def _lcg(s):
    return (s * 1664525 + 1013904223) & 0xFFFFFFFF


def fill_uniform(n, seed=1):
    """bench/lib/sampling.mjs's fillUniform: the same values, as a list of floats."""
    out, s = [], seed & 0xFFFFFFFF
    for _ in range(n):
        s = _lcg(s)
        out.append(s / 2**31 - 1)
    return out


def fill_tokens(n, vocab, seed=2):
    """bench/lib/sampling.mjs's fillTokens: the same tokens, as a list of ints."""
    out, s = [], seed & 0xFFFFFFFF
    for _ in range(n):
        s = _lcg(s)
        out.append((s >> 8) % vocab)
    return out


def samples_from_env(default):
    return int(os.environ.get("PEER_SAMPLES", default))


def emit(row):
    """Prints this process's result row as one JSON line (run.mjs reads the last line), with the peak
    RSS (ru_maxrss is in kilobytes on Linux) and the load average, as lib.mjs's emit does."""
    import json

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({**row, "peak_rss_mb": peak, "load": os.getloadavg()[0]}), flush=True)
