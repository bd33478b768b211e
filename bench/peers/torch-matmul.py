#!/usr/bin/env python3
"""`python3 torch-matmul.py [N] [--threads N]`: GFLOP/s of PyTorch's float32 N×N×N product (default 512),
torch.mm into a preallocated output (out=), so nothing is allocated per call; the product is OpenBLAS's
sgemm (torch.__config__: BLAS_INFO=generic, i.e. the system libblas.so.3, which libopenblas0-pthread makes
OpenBLAS). Inputs are bench/lib/sampling.mjs's seeded fills, as for tfjs-matmul.mjs.
"""
import sys

from torch_peer import describe_system, emit, fill_uniform, median_seconds, parse_blas_threads, parse_threads, setup_threads

args = sys.argv[1:]
threads = parse_threads(args)
n = int(args[0]) if args and args[0].isdigit() else 512
torch = setup_threads(threads, parse_blas_threads(args, threads))
a = torch.tensor(fill_uniform(n * n, 1), dtype=torch.float32).view(n, n)  # [n,n]
b = torch.tensor(fill_uniform(n * n, 2), dtype=torch.float32).view(n, n)  # [n,n]
c = torch.empty(n, n)  # [n,n]


def multiply():
    torch.mm(a, b, out=c)


seconds = median_seconds(multiply, min_samples=7, max_time=3)
system, _ = describe_system(torch)
emit({"system": system, "what": f"matmul {n}³", "gflops": 2 * n**3 / seconds / 1e9})
