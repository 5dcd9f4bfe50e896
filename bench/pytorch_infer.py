"""PyTorch inference timing of the reference network (reference/model.py), for comparison with
sermo's burn backends.

    ~/sermo/venv-torch/bin/python bench/pytorch_infer.py [--threads 2] [--runs-single 300] [--runs-batch 30]

Eval mode, torch.inference_mode, float32, random N(0, 1) inputs. Times one clip [1, 1, 40, 282]
and a batch of 64 [64, 1, 40, 282]: median (and p10/p90) milliseconds per forward pass after
warm-up. Prints one JSON object.
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "reference"))
from model import ParallelNet  # noqa: E402


def time_forward(model, x, warmup: int, runs: int) -> dict:
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=10)
    return {
        "batch": x.shape[0],
        "runs": runs,
        "median_ms": round(statistics.median(times), 3),
        "p10_ms": round(q[0], 3),
        "p90_ms": round(q[-1], 3),
        "median_ms_per_clip": round(statistics.median(times) / x.shape[0], 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs-single", type=int, default=300)
    ap.add_argument("--runs-batch", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    load_at_start = round(os.getloadavg()[0], 2)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    model = ParallelNet().eval()

    single = time_forward(model, torch.randn(1, 1, 40, 282), warmup=30, runs=args.runs_single)
    batch = time_forward(model, torch.randn(64, 1, 40, 282), warmup=5, runs=args.runs_batch)
    print(json.dumps({
        "benchmark": "pytorch_infer",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_1min_at_start": load_at_start,  # > ~0.5 on 2 cores: figures are inflated
        "single": single,
        "batch64": batch,
    }, indent=2))


if __name__ == "__main__":
    main()
