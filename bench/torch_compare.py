#!/usr/bin/env python3
"""PyTorch (CPU) on the rows of Parity's CPU suite that it can be compared on.

    bench/torch_compare.py OUT.json [--threads N] [--repetitions R] [--min-time S]

Times torch.add, torch.mul, torch.relu and torch.sum at the sizes of
bench/bench_common.h (a new output every call, as in Parity's suite) and the
small ops (add of two 1- and 16-element tensors, relu, sum, add of a scalar,
empty), and writes the medians and the best of the repetitions as JSON for bench/bench_table.py. scripts/bench runs
it right after Parity's suite so the two sets of numbers come from one run.

The small-op times include the Python call into torch (about a microsecond or
more): they bound PyTorch's eager overhead as a Python user sees it, not its
C++ dispatcher alone. Needs Debian's python3-torch (run with /usr/bin/python3).
"""
import argparse
import json
import statistics
import sys
import time

SIZES = [1 << 10, 1 << 13, 1 << 16, 1 << 19, 1 << 22, 1 << 25, 1 << 26]


def timed(fn, min_time):
    """Seconds per call: calls fn in batches until one batch lasts min_time."""
    fn()
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / batch
        batch = max(batch * 2, int(batch * min_time / max(elapsed, 1e-9) * 1.2))


def times(fn, reps, min_time):
    """(median, best) seconds per call over reps repetitions."""
    t = [timed(fn, min_time) for _ in range(reps)]
    return statistics.median(t), min(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all CPUs)")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        print("torch_compare: PyTorch is not installed (apt-get install python3-torch); skipped", file=sys.stderr)
        return 0
    import os

    torch.set_num_threads(args.threads or os.cpu_count())
    torch.manual_seed(0)
    result = {"version": torch.__version__, "threads": torch.get_num_threads(), "ops": {}, "small": {}}

    ops = {
        "add": (2, False, torch.add),
        "mul": (2, False, torch.mul),
        "relu": (1, False, torch.relu),
        "sum": (1, True, torch.sum),
    }
    dtypes = {"f32": torch.float32, "f64": torch.float64}
    with torch.no_grad():
        for op, (arity, reduces, fn) in ops.items():
            for dname, dtype in dtypes.items():
                if dname == "f64" and op not in ("add", "sum"):
                    continue
                row = {}
                for n in SIZES:
                    inputs = [torch.rand(n, dtype=dtype) * 2 - 1 for _ in range(arity)]
                    median, best = times(lambda: fn(*inputs), args.repetitions, args.min_time)
                    nbytes = (arity * n + (1 if reduces else n)) * inputs[0].element_size()
                    row[str(n)] = {"seconds": median, "bytes_per_second": nbytes / median,
                                   "best_seconds": best, "best_bytes_per_second": nbytes / best}
                    del inputs
                result["ops"][f"{op}/{dname}"] = row
                print(f"torch {op}/{dname}: done", file=sys.stderr)

        small = {
            "add/f32/1": lambda a, b: torch.add(a, b),
            "add/f32/16": lambda a, b: torch.add(a, b),
            "relu/f32/16": lambda a, b: torch.relu(a),
            "sum/f32/16": lambda a, b: torch.sum(a),
            "add_scalar/f32/16": lambda a, b: torch.add(a, 1.0),
            "empty/f32/16": lambda a, b: torch.empty(16),
        }
        for key, fn in small.items():
            n = int(key.rsplit("/", 1)[1])
            a, b = torch.rand(n), torch.rand(n)
            median, best = times(lambda: fn(a, b), args.repetitions, args.min_time)
            result["small"][key] = {"seconds": median, "best_seconds": best}

    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
