"""PyTorch training-step timing of the reference network with the paper's recipe, for comparison
with sermo's trainer.

    ~/sermo/venv-torch/bin/python bench/pytorch_train_step.py [--threads 2] [--steps 50] [--warmup 10]

One step = forward in train mode (dropout and batch statistics on), cross-entropy, backward, SGD
(lr 0.01, momentum 0.9, weight decay 1e-4) on a batch of 16 random N(0, 1) maps [16, 1, 40, 282]
with random labels. Denormals flushed to zero. Prints one JSON object with the median
milliseconds per step.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reference"))
from model import ParallelNet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    load_at_start = round(os.getloadavg()[0], 2)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)

    model = ParallelNet().train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    n = args.warmup + args.steps
    xs = torch.randn(n, args.batch, 1, 40, 282)
    ys = torch.randint(0, 8, (n, args.batch))

    times = []
    for i in range(n):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        logits, _ = model(xs[i])
        loss = criterion(logits, ys[i])
        loss.backward()
        optimizer.step()
        elapsed = (time.perf_counter() - t0) * 1e3
        if i >= args.warmup:
            times.append(elapsed)

    q = statistics.quantiles(times, n=10)
    print(json.dumps({
        "benchmark": "pytorch_train_step",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_1min_at_start": load_at_start,  # > ~0.5 on 2 cores: figures are inflated
        "batch": args.batch,
        "steps": args.steps,
        "median_ms": round(statistics.median(times), 2),
        "p10_ms": round(q[0], 2),
        "p90_ms": round(q[-1], 2),
        "final_loss": round(loss.item(), 4),
        "steps_per_epoch_paper": 287,  # 4588 training maps / 16
        "epoch_s_estimate": round(statistics.median(times) * 287 / 1e3, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
