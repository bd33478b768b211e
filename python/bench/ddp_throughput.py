#!/usr/bin/env python3
"""Training throughput of mlstm_torch.train on this machine's CPUs: one process against N DDP ranks (gloo).

    PYTHONPATH=python python3 python/bench/ddp_throughput.py [--data data/moby-dick.txt] [--steps 30]
        [--warmup 5] [--repeats 5] [--ranks 2] [--with-threads] [--hidden 256 --embed 64 --batch 32 --seq 64]

Runs, interleaved `--repeats` times: one process with 1 thread, `--ranks` DDP processes of 1 thread each
(python3 -m mlstm_torch.launch, gloo) and, with --with-threads, one process with `--ranks` threads (slow and
heavy on a busy machine with Debian's torch, whose OpenMP and BLAS threads then compete for the same
cores: a run of it pushed the load average of this 2-core machine from 4.7 to 9.3). Each run trains `--steps`
steps of the same model on the same global batch and logs every step's wall time (--log-json); the rate
of a run is (B*T characters) / (median step time) over the steps after `--warmup`. Prints every run, the
median per mode, and the load average (os.getloadavg) before and after each run, since this machine is
shared. Nothing is written outside a temporary directory.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.dirname(HERE)


def run_mode(mode, ranks, a, workdir, port):
    log = os.path.join(workdir, f"{mode}.jsonl")
    if os.path.exists(log):
        os.remove(log)
    train = ["--data", a.data, "--out", os.path.join(workdir, f"{mode}.safetensors"), "--hidden", str(a.hidden),
             "--embed", str(a.embed), "--batch", str(a.batch), "--seq", str(a.seq), "--steps", str(a.steps),
             "--valid-every", "0", "--checkpoint-every", "0", "--log-every", str(a.steps), "--log-json", log]
    env = {**os.environ, "PYTHONPATH": PACKAGE_DIR}
    if mode == "ddp":
        env["OMP_NUM_THREADS"] = "1"
        cmd = [sys.executable, "-m", "mlstm_torch.launch", "--nproc_per_node", str(ranks), "--master_port", str(port),
               "--monitor_interval", "0.2", "-m", "mlstm_torch.train", *train, "--threads", "1"]
    else:
        threads = 1 if mode == "1x1" else ranks
        cmd = [sys.executable, "-m", "mlstm_torch.train", *train, "--threads", str(threads)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    with open(log) as f:
        steps = [json.loads(line) for line in f]
    times = [s["seconds"] for s in steps[a.warmup:]]
    rate = a.batch * a.seq / statistics.median(times)
    return {"mode": mode, "chars_per_s": rate, "median_step_s": statistics.median(times), "wall_s": wall,
            "load_before": load_before, "load_after": load_after, "final_bpc": steps[-1]["bpc"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(PACKAGE_DIR, "..", "data", "moby-dick.txt"))
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--with-threads", action="store_true", help="also one process with --ranks threads")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--port", type=int, default=29613)
    ap.add_argument("--json", metavar="FILE", help="also write every run as JSON")
    a = ap.parse_args()
    import torch  # only for the banner
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs; mLSTM H={a.hidden} E={a.embed}, B={a.batch} x T={a.seq} "
          f"({a.batch * a.seq} characters per step), {a.steps} steps per run, first {a.warmup} not timed", flush=True)
    modes = ["1x1", "ddp"] + ([f"1x{a.ranks}"] if a.with_threads else [])
    names = {"1x1": "1 process, 1 thread", f"1x{a.ranks}": f"1 process, {a.ranks} threads",
             "ddp": f"{a.ranks} DDP ranks (gloo), 1 thread each"}
    results = []
    with tempfile.TemporaryDirectory(prefix="mlstm-ddp-bench-") as workdir:
        for k in range(a.repeats):
            for mode in modes:
                r = run_mode(mode, a.ranks, a, workdir, a.port + k)
                results.append(r)
                print(f"run {k + 1} {names[mode]:<32} {r['chars_per_s']:>8,.0f} chars/s (median step "
                      f"{r['median_step_s']:.3f} s; load {r['load_before']:.2f} -> {r['load_after']:.2f})", flush=True)
    print("median over the runs:")
    base = None
    for mode in modes:
        rates = [r["chars_per_s"] for r in results if r["mode"] == mode]
        med = statistics.median(rates)
        base = base or med
        runs = ", ".join(f"{x:,.0f}" for x in rates)
        print(f"  {names[mode]:<32} {med:>8,.0f} chars/s  ({med / base:.2f}x; runs {runs})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
