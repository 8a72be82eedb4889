#!/usr/bin/env python3
"""Parity's fused CPU Adam step next to PyTorch 1.13's, in one run.

    /usr/bin/python3 bench/optim_compare.py BUILD_DIR [--sizes 1000000,10000000,100000000]
                                            [--threads N] [--repetitions R]

Runs BUILD_DIR/bench/bench_optim (Parity: optim_adam/pytorch_1_13/fused, the
same arithmetic as torch.optim.Adam of PyTorch 1.13 on this CPU, and the copy
bandwidth it measures at start-up), then times torch.optim.Adam (Debian's
python3-torch 1.13, foreach=False as it picks on the CPU) on float32 parameters
of the same sizes with the same thread count, and prints one table: seconds
per step, bytes/s against the minimum traffic of a step (param, grad, m, v
read; param, m, v written: 28 bytes per parameter) and the share of the copy
bandwidth. Needs /usr/bin/python3 with python3-torch (apt-get install python3-torch).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BYTES_PER_PARAM = 28


def parity_rows(build, sizes, threads, reps):
    exe = os.path.join(build, "bench", "bench_optim")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               PARITY_BENCH_OPTIM_SIZES=",".join(str(n) for n in sizes))
    out = subprocess.run([exe, "--benchmark_filter=^(optim_adam/pytorch_1_13/fused|stream_copy)",
                          "--benchmark_format=json", "--benchmark_repetitions=%d" % reps,
                          "--benchmark_report_aggregates_only=true"],
                         env=env, check=True, capture_output=True, text=True).stdout
    data = json.loads(out[out.index("{"):])
    copy = float(data["context"]["copy_bandwidth_GBps"]) * 1e9
    rows = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median" or not b["name"].startswith("optim_adam"):
            continue
        n = int(b["name"].split("/")[4])
        secs = b["real_time"] * {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
        rows[n] = secs
    return copy, rows


def torch_rows(sizes, threads, reps):
    import torch
    torch.set_num_threads(threads)
    rows = {}
    for n in sizes:
        p = torch.nn.Parameter(torch.randn(n))
        p.grad = torch.randn(n) * 1e-3
        opt = torch.optim.Adam([p], lr=1e-3)
        opt.step()  # state outside the timing
        times = []
        for _ in range(reps):
            iters = max(1, int(2e8 // n))
            t0 = time.perf_counter()
            for _ in range(iters):
                opt.step()
            times.append((time.perf_counter() - t0) / iters)
        rows[n] = statistics.median(times)
        del opt, p
    return torch.__version__, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--sizes", default="1000000,10000000,100000000")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    copy, parity = parity_rows(args.build, sizes, args.threads, args.repetitions)
    version, torch = torch_rows(sizes, args.threads, args.repetitions)
    print("Adam step, float32, CPU, %d threads; copy bandwidth %.2f GB/s (Parity's stream copy, same run)"
          % (args.threads, copy / 1e9))
    print("%12s | %22s | %22s | %s" % ("params", "Parity fused (pytorch_1_13)", "PyTorch %s" % version, "speed-up"))
    print("%12s | %10s %5s %5s | %10s %5s %5s |" % ("", "ms/step", "GB/s", "copy", "ms/step", "GB/s", "copy"))
    for n in sizes:
        a, b = parity.get(n), torch.get(n)
        if a is None or b is None:
            continue
        ga, gb = BYTES_PER_PARAM * n / a, BYTES_PER_PARAM * n / b
        print("%12d | %10.3f %5.1f %4.0f%% | %10.3f %5.1f %4.0f%% | %.1fx"
              % (n, a * 1e3, ga / 1e9, 100 * ga / copy, b * 1e3, gb / 1e9, 100 * gb / copy, b / a))


if __name__ == "__main__":
    sys.exit(main())
