#!/usr/bin/env python3
"""PyTorch (CPU) on the seed's two conv layers, at bench/bench_conv.cpp's shapes.

    /usr/bin/python3 bench/conv_torch_compare.py [--threads N] [--min-time S]

Batch 8, 7x7 kernels, 64 filters, valid padding; layer 1 on size x size x 3,
layer 2 on (size-6) x (size-6) x 64, for size 32 and 64. Prints GFLOP/s
(2 per multiply-add) of the forward pass (NCHW, and NHWC as torch's
channels_last), the input gradient and the weight gradient, to compare with
bench_conv's rows of the same names in the same session (one run, the same
thread count). Needs Debian's python3-torch.
"""
import argparse
import time

import torch
import torch.nn.functional as F


def timed(fn, min_time):
    fn()
    best = float("inf")
    start = time.perf_counter()
    while time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, best of >= {args.min_time}s")
    batch, k, filters = 8, 7, 64
    for size in (32, 64):
        for which, (cin, s) in enumerate([(3, size), (64, size - 6)], start=1):
            out = s - k + 1
            flops = 2.0 * batch * out * out * filters * cin * k * k
            x = torch.rand(batch, cin, s, s) * 2 - 1
            w = (torch.rand(filters, cin, k, k) * 2 - 1) * 0.1
            dy = torch.rand(batch, filters, out, out) * 2 - 1
            rows = {
                "fwd_nchw": lambda: F.conv2d(x, w),
                "fwd_nhwc": (lambda xc=x.contiguous(memory_format=torch.channels_last),
                             wc=w.contiguous(memory_format=torch.channels_last): F.conv2d(xc, wc)),
                "bwd_input": lambda: torch.nn.grad.conv2d_input(x.shape, w, dy),
                "bwd_weight": lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy),
            }
            for name, fn in rows.items():
                with torch.no_grad():
                    t = timed(fn, args.min_time)
                print(f"conv2d_{name}_seed{which}/f32/torch/{size}: {t * 1e3:8.2f} ms  {flops / t / 1e9:7.1f} GFLOP/s")


if __name__ == "__main__":
    main()
