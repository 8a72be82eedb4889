#!/usr/bin/env python3
"""PyTorch (CPU) on the rows of Parity's CPU suites that it can be compared on.

    /usr/bin/python3 bench/torch_compare.py OUT.json [--only GROUPS] [--threads N]
                     [--repetitions R] [--min-time S] [--seed-sizes 32,64,224]

GROUPS (comma-separated, default all): ops, small, matmul, conv, pool, optim,
autograd, seed. Each timed row is keyed by the name of the Parity benchmark it
mirrors (bench/bench_*.cpp, without Google Benchmark's /real_time suffixes), so
bench/bench_table.py pairs them; scripts/bench runs this right after Parity's
suites, at the same thread count, so both sets of numbers come from one run.

  ops       torch.add/mul/relu/exp/tanh/softplus/sigmoid/log1p/sum/cat at bench/bench_common.h's sizes, a new output every call
  small     one small eager op (1 or 16 elements); the time includes the Python call
  matmul    torch.mm, square n x n x n (bench_ops' matmul rows)
  conv      the seed's two 7x7 conv layers, batch 8 (bench_conv): forward NCHW and
            channels_last, and aten.convolution_backward's input and weight
            gradients on channels_last tensors
  pool      4x4 max-pool of layer 2's output, channels_last: forward, and the
            backward from the forward's indices (PyTorch keeps them; Parity
            recomputes the argmax from x and y)
  optim     torch.optim.Adam, Adadelta, SGD(momentum=0.9) steps, float32, foreach=False
            as PyTorch 1.13 picks on the CPU (bench_optim's pytorch rows)
  autograd  the 33-layer MLP step of bench_autograd's train_step, recorded or not,
            and a recorded add of two 16-element tensors (Python included)
  seed      the seed model's training step, batch 64, NCHW (bench_seed): zero_grad,
            forward, MSE, backward, Adam, the loss read back

Each row holds the median and the best of the repetitions, in seconds. Needs
Debian's python3-torch (run with /usr/bin/python3); without it, writes nothing.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

OP_SIZES = [1 << 10, 1 << 13, 1 << 16, 1 << 19, 1 << 22, 1 << 25, 1 << 26]
MATMUL_SIZES = [32, 64, 128, 256, 512, 1024, 2048]  # bench/bench_common.h matmul_sizes()
MATMUL_F64 = [256, 1024]
CONV_SIZES = [32, 64]  # bench/bench_conv.cpp sizes()
OPTIM_SIZES = [1_000_000, 10_000_000, 100_000_000]  # bench/bench_optim.cpp defaults
GROUPS = ["ops", "small", "matmul", "conv", "pool", "optim", "autograd", "seed"]


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
    """{"seconds": median, "best_seconds": best} over reps repetitions."""
    t = [timed(fn, min_time) for _ in range(reps)]
    return {"seconds": statistics.median(t), "best_seconds": min(t)}


def ops_group(torch, rows, result, args):
    ops = {"add": (2, False, torch.add), "mul": (2, False, torch.mul),
           "relu": (1, False, torch.relu), "exp": (1, False, torch.exp), "tanh": (1, False, torch.tanh),
           "softplus": (1, False, torch.nn.functional.softplus), "sigmoid": (1, False, torch.sigmoid),
           "log1p": (1, False, torch.log1p), "sum": (1, True, torch.sum),
           "cat": (2, False, lambda a, b: torch.cat((a, b)))}
    for op, (arity, reduces, fn) in ops.items():
        for dname, dtype in {"f32": torch.float32, "f64": torch.float64}.items():
            if dname == "f64" and op not in ("add", "sum"):
                continue
            row = {}
            for n in OP_SIZES:
                inputs = [torch.rand(n, dtype=dtype) * 2 - 1 for _ in range(arity)]
                t = times(lambda: fn(*inputs), args.repetitions, args.min_time)
                out = 1 if reduces else (arity if op == "cat" else 1) * n  # cat's output holds every input
                nbytes = (arity * n + out) * inputs[0].element_size()
                row[str(n)] = {"seconds": t["seconds"], "bytes_per_second": nbytes / t["seconds"],
                               "best_seconds": t["best_seconds"],
                               "best_bytes_per_second": nbytes / t["best_seconds"]}
                del inputs
            result["ops"][f"{op}/{dname}"] = row


def small_group(torch, rows, result, args):
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
        result["small"][key] = times(lambda: fn(a, b), args.repetitions, args.min_time)


def matmul_group(torch, rows, result, args):
    for dname, dtype, sizes in (("f32", torch.float32, MATMUL_SIZES), ("f64", torch.float64, MATMUL_F64)):
        for n in sizes:
            a, b = torch.rand(n, n, dtype=dtype) * 2 - 1, torch.rand(n, n, dtype=dtype) * 2 - 1
            rows[f"matmul/{dname}/cpu/{n}"] = times(lambda: torch.mm(a, b), args.repetitions, args.min_time)


def conv_group(torch, rows, result, args):
    aten = torch.ops.aten
    batch, k, filters = 8, 7, 64
    for size in CONV_SIZES:
        for which, (cin, s) in enumerate([(3, size), (64, size - 6)], start=1):
            out = s - k + 1
            x = torch.rand(batch, cin, s, s) * 2 - 1
            w = (torch.rand(filters, cin, k, k) * 2 - 1) * 0.1
            b = (torch.rand(filters) * 2 - 1) * 0.1
            dy = torch.rand(batch, filters, out, out) * 2 - 1
            cl = torch.channels_last
            xc, wc, dyc = x.contiguous(memory_format=cl), w.contiguous(memory_format=cl), dy.contiguous(memory_format=cl)

            def backward(mask):
                return aten.convolution_backward(dyc, xc, wc, [filters], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)

            cases = {
                f"conv2d_fwd_seed{which}_nchw": lambda: torch.conv2d(x, w, b),
                f"conv2d_fwd_seed{which}_nhwc": lambda: torch.conv2d(xc, wc, b),
                f"conv2d_bwd_input_seed{which}_nhwc": lambda: backward([True, False, False]),
                f"conv2d_bwd_weight_seed{which}_nhwc": lambda: backward([False, True, False]),
            }
            for name, fn in cases.items():
                rows[f"{name}/f32/cpu/{size}"] = times(fn, args.repetitions, args.min_time)


def pool_group(torch, rows, result, args):
    aten = torch.ops.aten
    for size in CONV_SIZES:
        s = size - 12
        x = (torch.rand(8, 64, s, s) * 2 - 1).contiguous(memory_format=torch.channels_last)
        y, idx = aten.max_pool2d_with_indices(x, [4, 4], [4, 4])
        dy = (torch.rand_like(y) * 2 - 1).contiguous(memory_format=torch.channels_last)
        rows[f"max_pool2d_fwd_4x4_nhwc/f32/cpu/{size}"] = times(
            lambda: torch.max_pool2d(x, 4), args.repetitions, args.min_time)
        rows[f"max_pool2d_bwd_4x4_nhwc/f32/cpu/{size}"] = times(
            lambda: aten.max_pool2d_with_indices_backward(dy, x, [4, 4], [4, 4], [0, 0], [1, 1], False, idx),
            args.repetitions, args.min_time)


def optim_group(torch, rows, result, args):
    makers = {
        "optim_adam/pytorch_1_13/fused": lambda p: torch.optim.Adam([p], lr=1e-3),
        "optim_adadelta/pytorch/fused": lambda p: torch.optim.Adadelta([p]),
        "optim_sgd_momentum/pytorch/fused": lambda p: torch.optim.SGD([p], lr=1e-2, momentum=0.9),
    }
    for name, make in makers.items():
        for n in OPTIM_SIZES:
            p = torch.nn.Parameter(torch.randn(n))
            p.grad = torch.randn(n) * 1e-3
            opt = make(p)
            opt.step()  # the state, outside the timing
            rows[f"{name}/cpu/{n}"] = times(opt.step, args.repetitions, args.min_time)
            del opt, p


def autograd_group(torch, rows, result, args):
    for width in (8, 64):
        weights = [(torch.randn(width, width) / math.sqrt(width)).requires_grad_() for _ in range(33)]
        biases = [torch.zeros(width, requires_grad=True) for _ in range(33)]
        x = torch.randn(32, width)
        for record in (0, 1):
            def step():
                with torch.set_grad_enabled(bool(record)):
                    h = x
                    for w, b in zip(weights, biases):
                        h = torch.relu(h @ w + b)
                    loss = (h * h).mean()
                    if record:
                        loss.backward()
                        for t in weights + biases:
                            t.grad = None
            rows[f"train_step/width:{width}/record:{record}"] = times(step, args.repetitions, args.min_time)
    a, b = torch.rand(16, requires_grad=True), torch.rand(16, requires_grad=True)
    rows["record_add/n:16/mode:1"] = times(lambda: a + b, args.repetitions, args.min_time)


def seed_model(torch, size):
    pooled = (size - 12) // 4
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 7), torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 7), torch.nn.ReLU(),
        torch.nn.MaxPool2d(4), torch.nn.Flatten(), torch.nn.Linear(64 * pooled * pooled, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 8))


def seed_group(torch, rows, result, args):
    torch.manual_seed(6)
    for size in [int(s) for s in args.seed_sizes.split(",") if s]:
        m = seed_model(torch, size)
        opt = torch.optim.Adam(m.parameters())
        x, y = torch.rand(64, 3, size, size), torch.rand(64, 8)

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        # One step is 0.1-20 s: time single steps, at least 3, for at least 2 s per repetition.
        per_rep = []
        step()  # warm up
        for _ in range(args.repetitions):
            t, start = [], time.perf_counter()
            while time.perf_counter() - start < 2.0 or len(t) < 3:
                t0 = time.perf_counter()
                step()
                t.append(time.perf_counter() - t0)
            per_rep.append(statistics.median(t))
        rows[f"seed_train_step/f32/cpu/{size}"] = {"seconds": statistics.median(per_rep),
                                                  "best_seconds": min(per_rep)}
        del m, opt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--only", default=",".join(GROUPS), help="groups to time (default: all)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all CPUs)")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--seed-sizes", default="32,64", help="image sizes of the seed step (224: ~20 s a step)")
    args = ap.parse_args()
    groups = [g for g in args.only.split(",") if g]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")

    try:
        import torch
    except ImportError:
        print("torch_compare: PyTorch is not installed (apt-get install python3-torch); skipped", file=sys.stderr)
        return 0

    torch.set_num_threads(args.threads or os.cpu_count())
    torch.manual_seed(0)
    result = {"version": torch.__version__, "threads": torch.get_num_threads(), "ops": {}, "small": {}, "rows": {}}
    for g in groups:
        start = time.perf_counter()
        with torch.no_grad() if g not in ("autograd", "seed") else torch.enable_grad():
            globals()[f"{g}_group"](torch, result["rows"], result, args)
        print(f"torch_compare: {g} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)

    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
