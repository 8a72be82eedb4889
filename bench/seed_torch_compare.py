#!/usr/bin/env python3
"""The seed model's training step in PyTorch (Debian's python3-torch 1.13), timed
as bench/bench_seed.cpp times Parity's: zero_grad, forward, MSE, backward, Adam
step, the loss read back; batch 64, float32, NCHW (PyTorch's CPU convolutions
run on oneDNN). Prints one JSON object per size: {"size", "seconds" (median),
"threads", "torch"}.

    /usr/bin/python3 bench/seed_torch_compare.py [--threads 2] [--sizes 32,64,224]
"""
import argparse
import json
import statistics
import time

import torch


def model(size):
    pooled = (size - 12) // 4
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 7), torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 7), torch.nn.ReLU(),
        torch.nn.MaxPool2d(4), torch.nn.Flatten(), torch.nn.Linear(64 * pooled * pooled, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 8))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="32,64")
    ap.add_argument("--min-time", type=float, default=2.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(6)
    for size in [int(s) for s in args.sizes.split(",")]:
        m = model(size)
        opt = torch.optim.Adam(m.parameters())
        x = torch.rand(64, 3, size, size)
        y = torch.rand(64, 8)

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        step()  # warm up
        times, start = [], time.perf_counter()
        while time.perf_counter() - start < args.min_time or len(times) < 3:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"size": size, "seconds": statistics.median(times), "steps": len(times),
                          "threads": args.threads, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
