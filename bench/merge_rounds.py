#!/usr/bin/env python3
"""Merges the rounds of a benchmark that scripts/bench alternates with PyTorch's.

    bench/merge_rounds.py OUT.json ROUND.json [ROUND.json ...]          # Google Benchmark JSON
    bench/merge_rounds.py --torch OUT.json TORCH.json [TORCH.json ...]  # bench/torch_compare.py JSON

Google Benchmark files: each benchmark's runs across the rounds become the
aggregates bench/bench_table.py reads: "median" is the round of median time
(the lower middle one for an even count), and "min" and "max" both hold the
fastest round, whose time is the best and whose rates are the highest (the
table reads the best time from "min" and the best rate from "max").

torch_compare files: a row timed in several files gets the median of their
medians and the best of their bests; the other fields come from the first file
that has them. OUT may be one of the inputs: every input is read first.
Python standard library only.
"""
import argparse
import json
import statistics
import sys

UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def merge_benchmark(paths):
    files = [json.load(open(p)) for p in paths]
    by_name = {}
    for data in files:
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue  # a round with repetitions contributes its median
            by_name.setdefault(b.get("run_name", b["name"]), []).append(b)
    out = []
    for name, runs in by_name.items():
        runs = sorted(runs, key=lambda b: b["real_time"] * UNIT_S[b.get("time_unit", "ns")])
        for kind, b in (("median", runs[(len(runs) - 1) // 2]), ("min", runs[0]), ("max", runs[0])):
            e = dict(b, run_type="aggregate", aggregate_name=kind, run_name=name, repetitions=len(runs),
                     name=f"{name}_{kind}")
            out.append(e)
    context = dict(files[0].get("context", {})) if files else {}
    context["rounds"] = len(files)
    return {"context": context, "benchmarks": out}


def merge_torch(paths):
    files = [json.load(open(p)) for p in paths]
    merged, rows = {}, {}
    for data in files:
        for key, value in data.items():
            if key == "rows":
                for name, r in value.items():
                    rows.setdefault(name, []).append(r)
            elif key not in merged or not merged[key]:
                merged[key] = value
    merged["rows"] = {name: {"seconds": statistics.median(r["seconds"] for r in rs),
                             "best_seconds": min(r["best_seconds"] for r in rs), "rounds": len(rs)}
                      for name, rs in rows.items()}
    return merged


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--torch", action="store_true", help="the inputs are bench/torch_compare.py JSON")
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="*")
    args = ap.parse_args()
    if not args.inputs:
        print("merge_rounds: no rounds to merge", file=sys.stderr)
        return 0
    merged = merge_torch(args.inputs) if args.torch else merge_benchmark(args.inputs)
    with open(args.out, "w") as f:
        json.dump(merged, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
