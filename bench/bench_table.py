#!/usr/bin/env python3
"""Prints the short table of a benchmark run (Python standard library only).

    bench/bench_table.py RESULTS.json [MORE.json ...] [--torch TORCH.json]

Reads Google Benchmark JSON files (bench/bench_*; names are
<op>/<dtype>/<device>/<size>, see bench/bench_common.h) and, optionally, the
JSON written by bench/torch_compare.py in the same run. Uses the median of
repetitions when there are several. Rates are decimal: 1 GB/s = 1e9 bytes/s.

Each elementwise op and sum is compared with the STREAM-like kernel of the same
access pattern on the same device: add/mul (two reads, one write) with triad,
relu, exp, tanh, softplus, sigmoid, log1p (one read, one write) and cat (each input read, the output written) with copy, sum (one read) with read.
"""
import argparse
import json
import os
import platform
import sys

STREAM_REF = {"add": "triad", "mul": "triad", "relu": "copy", "exp": "copy", "tanh": "copy",
              "softplus": "copy", "sigmoid": "copy", "log1p": "copy", "sum": "read", "cat": "copy"}
UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def size_label(n):
    for unit, scale in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def load(paths):
    """{(op, dtype, device, size): {"median"|"min"|"max"|"single": run}}, and the contexts."""
    runs, contexts = {}, []
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench_table: skipping {path}: {e}", file=sys.stderr)
            continue
        contexts.append(data.get("context", {}))
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"])
            kind = b.get("aggregate_name") if b.get("run_type") == "aggregate" else "single"
            parts = [p for p in name.split("/") if p not in ("real_time", "manual_time")
                     and not p.startswith(("repeats:", "iterations:"))]
            key = (name, "", "", 0)
            if len(parts) == 4 and parts[3].isdigit():
                key = (parts[0], parts[1], parts[2], int(parts[3]))
            runs.setdefault(key, {}).setdefault(kind, b)
    return runs, contexts


class Stat:
    """Reads a rate or a time of a run: the median of the repetitions, or the
    best one (highest rate, lowest time); a run without repetitions as is."""

    def __init__(self, best):
        self.best = best

    def entry(self, run, best_kind):
        if run is None:
            return None
        for kind in ((best_kind,) if self.best else ()) + ("median", "single"):
            if kind in run:
                return run[kind]
        return None

    def rate(self, run, counter, scale=1e9):
        b = self.entry(run, "max")
        return b[counter] / scale if b and counter in b else None

    def seconds(self, run):
        b = self.entry(run, "min")
        return seconds(b) if b else None


def seconds(b):
    return b["real_time"] * UNIT_S[b.get("time_unit", "ns")]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def row_name(key):
    """A run's name without Google Benchmark's suffixes: the key of torch_compare.py's rows."""
    if key[1]:
        return f"{key[0]}/{key[1]}/{key[2]}/{key[3]}"
    parts = [p for p in key[0].split("/") if p not in ("real_time", "manual_time")
             and not p.startswith(("min_time:", "repeats:", "iterations:"))]
    return "/".join(parts)


# The sections of the side-by-side table: (title, name prefixes).
COMPARE_SECTIONS = [
    ("matmul (FLOP/s: 2n^3)", ("matmul/",)),
    ("the seed's conv layers, batch 8 (bench_conv)", ("conv2d_",)),
    ("4x4 max-pool of layer 2's output, batch 8", ("max_pool2d_",)),
    ("optimizer step, float32 (bytes: the minimum traffic of a step)", ("optim_",)),
    ("autograd: record and backward (PyTorch's time includes the Python calls)", ("train_step/", "record_")),
    ("the seed's training step, batch 64 (bench_seed)", ("seed_train_step/",)),
]


def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def compare_rows(runs, trows, st):
    """Parity and PyTorch side by side on every row both timed, with the share of
    the machine's limit each reaches: FLOP rows against the fastest sgemm of the
    run (the BLAS called directly), byte rows against STREAM copy."""
    by_name = {row_name(k): r for k, r in runs.items() if k[2] in ("", "cpu") or k[2].startswith("cpu")}
    gemm = [st.rate(r, "FLOP/s") for k, r in runs.items() if k[0].endswith("_gemm") and k[1] == "f32"
            and k[2] == "cpu"] + [st.rate(r, "FLOP/s") for k, r in runs.items() if "gemm_seed" in k[0]]
    peak = max((g for g in gemm if g), default=None)  # GFLOP/s
    copy = next((st.rate(r, "bytes_per_second") for k, r in runs.items()
                 if k[0] == "stream_copy" and k[2] == "cpu"), None)  # GB/s
    limits = []
    if peak:
        limits.append(f"sgemm {peak:.0f} GFLOP/s")
    if copy:
        limits.append(f"STREAM copy {copy:.1f} GB/s")
    print(f"\n[cpu] Parity and PyTorch side by side (same run, same threads). P/T time: Parity's time over "
          f"PyTorch's (below 1: Parity faster). %limit, torch%: the share of the machine's limit each reaches "
          f"({', '.join(limits) or 'not measured in this run'}; STREAM copy is from DRAM, so a working set "
          f"held in cache can pass 100%)")
    field = "best_seconds" if st.best else "seconds"
    for title, prefixes in COMPARE_SECTIONS:
        names = [n for n in trows if n.startswith(prefixes) and n in by_name]
        if not names:
            continue
        print(f"\n  {title}")
        print(f"  {'row':<44}{'Parity':>11}{'PyTorch':>11}{'P/T time':>10}{'rate':>10}{'%limit':>8}{'torch%':>8}")
        for n in names:
            run = by_name[n]
            p, t = st.seconds(run), trows[n].get(field)
            entry = st.entry(run, "min") or {}
            rate, limit, unit = None, None, ""
            if "FLOP/s" in entry and p:
                rate, limit, unit = st.rate(run, "FLOP/s"), peak, "G"
            elif "bytes_per_second" in entry and p:
                rate, limit, unit = st.rate(run, "bytes_per_second"), copy, "GB/s"
            pct = f"{100 * rate / limit:.0f}%" if rate and limit else "-"
            tpct = f"{100 * rate * p / t / limit:.0f}%" if rate and limit and t else "-"
            ratio = f"{p / t:.2f}x" if p and t else "-"
            print(f"  {n:<44}{fmt_time(p):>11}{fmt_time(t):>11}{ratio:>10}"
                  f"{(fmt(rate) + unit) if rate else '-':>10}{pct:>8}{tpct:>8}")


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+")
    ap.add_argument("--torch", help="JSON from bench/torch_compare.py, taken in the same run")
    ap.add_argument("--stat", choices=("median", "best"), default="median",
                    help="median of the repetitions (default) or the best one (needs the min/max aggregates)")
    args = ap.parse_args()
    st = Stat(args.stat == "best")

    runs, contexts = load(args.results)
    torch = None
    if args.torch and os.path.exists(args.torch):
        with open(args.torch) as f:
            torch = json.load(f)

    # The machine as the suites recorded it (the table may be printed elsewhere).
    ctx = contexts[0] if contexts else {}
    load_avg = " ".join(f"{x:.1f}" for x in ctx.get("load_avg", [])) or "?"
    reps = max((int(b.get("repetitions", 1) or 1) for r in runs.values() for b in r.values()), default=1)
    what = "best" if st.best else "medians"
    print(f"Parity benchmarks, {ctx.get('date', '')}; {what} of {reps} repetition(s)")
    print(f"machine: {ctx.get('cpu_model') or cpu_model()}, {ctx.get('num_cpus', '?')} CPUs at "
          f"{ctx.get('mhz_per_cpu', '?')} MHz, Parity threads {ctx.get('parity_threads', '?')}, "
          f"load average at the start {load_avg}")
    for c in contexts:
        if c.get("gpu"):
            print(f"gpu: {c['gpu']}")

    devices = sorted({k[2] for k in runs if k[2]})
    for device in devices:
        stream = {}
        for kind in ("copy", "triad", "read"):
            hits = [b for k, b in runs.items() if k[0] == f"stream_{kind}" and k[2] == device]
            if hits:
                stream[kind] = st.rate(hits[0], "bytes_per_second")
        if stream:
            size = next(k[3] for k in runs if k[0].startswith("stream_") and k[2] == device)
            print(f"\n[{device}] memory bandwidth, STREAM-like over {size_label(size)} float32 per array: "
                  + ", ".join(f"{k} {v:.1f} GB/s" for k, v in stream.items()))

        # ---- elementwise and sum ----
        keys = [k for k in runs if k[2] == device and k[0] in STREAM_REF]
        sizes = sorted({k[3] for k in keys})
        if keys:
            print(f"\n[{device}] elementwise and sum, GB/s (each input read once, output written once; "
                  "a new output allocated every call)")
            head = f"{'op':<10}{'dtype':<6}" + "".join(f"{size_label(s):>8}" for s in sizes)
            print(head + f"{'ref':>7}{'%ref':>6}{'alloc_hit':>10}")
            for op in STREAM_REF:
                for dtype in ("f32", "f64"):
                    row = [runs.get((op, dtype, device, s)) for s in sizes]
                    if not any(row):
                        continue
                    rates = [st.rate(b, "bytes_per_second") for b in row]
                    largest = next((r for r in reversed(rates) if r is not None), None)
                    # The kernel of the same access pattern, else the fastest one measured.
                    ref_name = STREAM_REF[op] if STREAM_REF[op] in stream else max(stream, key=stream.get, default="-")
                    ref = stream.get(ref_name)
                    pct = f"{100 * largest / ref:.0f}%" if ref and largest else "-"
                    hits = [st.entry(b, "median").get("alloc_hit") for b in row if b]
                    hit = min((h for h in hits if h is not None), default=None)
                    print(f"{op:<10}{dtype:<6}" + "".join(f"{fmt(r):>8}" for r in rates)
                          + f"{ref_name:>7}{pct:>6}{fmt(hit, 2):>10}")
                    trow = (torch or {}).get("ops", {}).get(f"{op}/{dtype}") if device == "cpu" else None
                    if trow:
                        field = "best_bytes_per_second" if st.best else "bytes_per_second"
                        trates = [trow.get(str(s), {}).get(field) for s in sizes]
                        trates = [t / 1e9 if t else None for t in trates]
                        print(f"{'  torch':<16}" + "".join(f"{fmt(r):>8}" for r in trates))
                        ratio = [p / t if p and t else None for p, t in zip(rates, trates)]
                        print(f"{'  parity/torch':<16}" + "".join(f"{fmt(r, 2):>8}" for r in ratio))

        # ---- matmul ----
        # Each variant (matmul, matmul_tf32, ...) against the BLAS calls of the same
        # variant: <blas>_gemm for matmul, <blas>_tf32_gemm for matmul_tf32.
        variants = sorted({k[0] for k in runs if k[2] == device and k[0].startswith("matmul")})
        msizes = sorted({k[3] for k in runs if k[2] == device and k[0] in variants})
        if variants:
            print(f"\n[{device}] matmul, GFLOP/s (square n x n x n, 2n^3 FLOP; the reference: the BLAS called "
                  "directly on preallocated buffers)")
            print(f"{'n':<22}" + "".join(f"{s:>8}" for s in msizes))
            gemms = sorted({k[0] for k in runs if k[2] == device and k[0].endswith("_gemm")})
        for variant in variants:
            tag = variant[len("matmul"):]  # "" or "_tf32"
            refs = [g for g in gemms if (g[:-len("_gemm")].endswith(tag) if tag else "_" not in g[:-len("_gemm")])]
            for dtype in ("f32", "f64"):
                prow = [runs.get((variant, dtype, device, s)) for s in msizes]
                if not any(prow):
                    continue
                prates = [st.rate(b, "FLOP/s") for b in prow]
                print(f"{variant + ' ' + dtype:<22}" + "".join(f"{fmt(r):>8}" for r in prates))
                for ref in refs:
                    rrates = [st.rate(runs.get((ref, dtype, device, s)), "FLOP/s") for s in msizes]
                    if not any(rrates):
                        continue
                    print(f"{ref + ' ' + dtype:<22}" + "".join(f"{fmt(r):>8}" for r in rrates))
                    pct = [f"{100 * p / r:.0f}%" if p and r else "-" for p, r in zip(prates, rrates)]
                    print(f"{'  % of ' + ref:<22}" + "".join(f"{x:>8}" for x in pct))

        # ---- small ops ----
        skeys = sorted((k for k in runs if k[2] == device and k[0].startswith("small_")), key=lambda k: (k[0], k[3]))
        if skeys:
            tsmall = (torch or {}).get("small", {}) if device == "cpu" else {}
            extra = f"{'torch (Python)':>16}" if tsmall else ""
            print(f"\n[{device}] one small eager op, µs per call (output allocation included)")
            print(f"{'op':<22}{'dtype':<6}{'n':>4}{'µs':>8}" + extra)
            for k in skeys:
                us = st.seconds(runs[k]) * 1e6
                line = f"{k[0][len('small_'):]:<22}{k[1]:<6}{k[3]:>4}{us:>8.2f}"
                t = tsmall.get(f"{k[0][len('small_'):]}/{k[1]}/{k[3]}", {}).get("best_seconds" if st.best else "seconds")
                if tsmall:
                    line += f"{fmt(t * 1e6 if t else None, 2):>16}"
                print(line)

    if torch and torch.get("rows"):
        compare_rows(runs, torch["rows"], st)

    if torch:
        print(f"\ntorch: {torch.get('version', '?')} ({torch.get('threads', '?')} threads), run right after "
              "Parity's suite by the same scripts/bench call; its small-op times include the Python call")

    compared = set((torch or {}).get("rows", {}))

    def known(k):
        return (k[2] and (k[0] in STREAM_REF or k[0].startswith("matmul") or k[0].endswith("_gemm")
                          or k[0].startswith("stream_") or k[0].startswith("small_"))) or row_name(k) in compared

    others = sorted((k for k in runs if not known(k)), key=str)
    if others:
        print("\nother benchmarks (time per iteration)")
        for k in others:
            b = st.entry(runs[k], "min")
            name = "/".join(str(p) for p in k if p != "" and p != 0)
            print(f"  {name:<60}{b['real_time']:>12.3f} {b.get('time_unit', 'ns')}")


if __name__ == "__main__":
    sys.exit(main())
