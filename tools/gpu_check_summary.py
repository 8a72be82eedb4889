#!/usr/bin/env python3
"""The short table tools/gpu-check.sh prints last (Python standard library only).

    tools/gpu_check_summary.py OUTDIR "test:<binary> <exit> <seconds>"... "bench:<binary> <exit> <seconds>"...

Reads OUTDIR/<binary>.json (GoogleTest) and OUTDIR/bench_cuda.json (Google
Benchmark) and prints: one row per test binary (tests, passed, failed,
skipped, seconds, exit status), the failed tests by name, and the CUDA
performance targets of docs/GPU.md measured on this card (elementwise ops and sum
at >= 90% of the device-to-device copy bandwidth, matmul at cuBLAS' rate, one
small op under 5 us of host time).
"""
import json
import os
import sys

UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def gtest_counts(path):
    """(tests, failed, skipped, failed names) from a GoogleTest JSON report, or None."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    tests = failed = skipped = 0
    names = []
    for suite in data.get("testsuites", []):
        for case in suite.get("testsuite", []):
            tests += 1
            if case.get("failures"):
                failed += 1
                names.append(f"{suite.get('name')}.{case.get('name')}")
            elif case.get("result") == "SKIPPED":
                skipped += 1
    return tests, failed, skipped, names


def bench_runs(path):
    """{(op, dtype, device, size): run}, medians where repeated."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}, {}
    runs = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        parts = [p for p in name.split("/") if p not in ("real_time", "manual_time")
                 and not p.startswith(("repeats:", "iterations:"))]
        if len(parts) == 4 and parts[3].isdigit():
            key = (parts[0], parts[1], parts[2], int(parts[3]))
            if b.get("run_type") == "aggregate" or key not in runs:
                runs[key] = b
    return runs, data.get("context", {})


def main():
    out = sys.argv[1]
    # Arguments look like "test:name rc secs".
    tests, benches = [], []
    for arg in sys.argv[2:]:
        kind, rest = arg.split(":", 1)
        (tests if kind == "test" else benches).append(rest.split())

    print("Parity GPU check")
    try:
        with open(os.path.join(out, "machine.txt")) as f:
            lines = f.read().splitlines()
        gpu = next((l for l in lines[2:4] if l and not l.startswith("name")), "?")
        print(f"GPU: {gpu}")
    except OSError:
        pass

    print(f"\n{'test binary':<28}{'tests':>6}{'pass':>6}{'fail':>6}{'skip':>6}{'sec':>6}  status")
    totals = [0, 0, 0, 0]
    failed_names = []
    for name, rc, secs in tests:
        counts = gtest_counts(os.path.join(out, name + ".json"))
        rc = int(rc)
        status = "ok" if rc == 0 else ("TIMEOUT" if rc in (124, 137) else f"FAILED (exit {rc})")
        if counts is None:
            print(f"{name:<28}{'-':>6}{'-':>6}{'-':>6}{'-':>6}{secs:>6}  {status}, no report")
            continue
        n, f, s, names = counts
        failed_names += [f"{name}: {x}" for x in names]
        totals = [totals[0] + n, totals[1] + n - f - s, totals[2] + f, totals[3] + s]
        print(f"{name:<28}{n:>6}{n - f - s:>6}{f:>6}{s:>6}{secs:>6}  {status}")
    print(f"{'total':<28}{totals[0]:>6}{totals[1]:>6}{totals[2]:>6}{totals[3]:>6}")
    if failed_names:
        print("\nfailed tests:")
        for x in failed_names[:30]:
            print(f"  {x}")
        if len(failed_names) > 30:
            print(f"  ... and {len(failed_names) - 30} more")

    for name, rc, secs in benches:
        if rc != "0":
            print(f"benchmark {name}: exit {rc} after {secs}s (see {name}.log)")

    runs, ctx = bench_runs(os.path.join(out, "bench_cuda.json"))
    if not runs:
        print("\nno CUDA benchmark results")
        return 0
    print(f"\nCUDA targets on {ctx.get('cuda_device', '?')} (docs/GPU.md):")
    copy = [b for k, b in runs.items() if k[0] == "stream_copy"]
    copy_bw = copy[0]["bytes_per_second"] if copy else None
    if copy_bw:
        print(f"  device copy bandwidth (read + write): {copy_bw / 1e9:.0f} GB/s")
    for op in ("add", "mul", "relu", "sum"):
        for dtype in ("f32", "f64"):
            keys = sorted(k for k in runs if k[0] == op and k[1] == dtype)
            if not keys or not copy_bw:
                continue
            b = runs[keys[-1]]
            frac = b["bytes_per_second"] / copy_bw
            verdict = "meets" if frac >= 0.9 else "BELOW"
            print(f"  {op:<5}{dtype} n={keys[-1][3]:<10} {b['bytes_per_second'] / 1e9:7.0f} GB/s = "
                  f"{100 * frac:5.1f}% of copy (target 90%): {verdict}")
    for parity_name, ref_name, dtype in (("matmul", "cublas_gemm", "f32"), ("matmul_tf32", "cublas_tf32_gemm", "f32"),
                                         ("matmul", "cublas_gemm", "f64")):
        sizes = sorted(k[3] for k in runs if k[0] == parity_name and k[1] == dtype)
        if not sizes:
            continue
        n = sizes[-1]
        p, r = runs.get((parity_name, dtype, "cuda", n)), runs.get((ref_name, dtype, "cuda", n))
        if p and r and r.get("FLOP/s"):
            frac = p["FLOP/s"] / r["FLOP/s"]
            verdict = "meets" if frac >= 0.95 else "BELOW"
            print(f"  {parity_name:<12}{dtype} n={n:<6} {p['FLOP/s'] / 1e12:7.1f} TFLOP/s = {100 * frac:5.1f}% of "
                  f"{ref_name} (target 95%): {verdict}")
    for key in sorted(k for k in runs if k[0].startswith("small_") or k[0] == "item_sum"):
        b = runs[key]
        us = b["real_time"] * UNIT_S[b.get("time_unit", "ns")] * 1e6
        target = " (target < 5 us): " + ("meets" if us < 5 else "BELOW") if key[0] != "small_empty" else ""
        if key[0] == "item_sum":
            target = " (includes the device round trip)"
        print(f"  {key[0]:<18} n={key[3]:<4} {us:6.2f} us of host time per op{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
