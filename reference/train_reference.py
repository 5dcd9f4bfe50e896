"""The paper's training recipe in PyTorch, on the examples of a sermo run's split.

    ~/sermo/venv-torch/bin/python reference/train_reference.py \
        --cache ~/.cache/sermo/features/<key> --split runs/<run>/split.json \
        --epochs 200 --seed 0 --out runs/<run>/pytorch-reference

Reads sermo's feature cache (`manifest.json` + `features.f32`, little-endian f32 laid out
`[clip][copy][n_mfcc × n_frames]`, copy 0 clean) and a split file
(`{"train": [{"clip": i, "copy": c}, ...], "valid": [...], "test": [...]}`, `clip` indexing the
manifest's `clips`), so PyTorch and sermo train on the very same maps and examples. Labels come
from the RAVDESS file names (`03-01-EE-II-SS-RR-AA.wav` → emotion EE, class EE − 1).

Recipe (DESIGN.md, "The paper, precisely"): per-position standardisation fitted on the training
examples only (mean and population std, as sklearn's StandardScaler; std 0 → 1); the reference
network (reference/model.py); cross-entropy on the logits; SGD lr 0.01, momentum 0.9, weight
decay 1e-4; batch 16, shuffled every epoch (seeded), last partial batch kept; validation accuracy
after every epoch; the epoch with the best validation accuracy (earliest on ties) is kept and
its test accuracy and normalised 8×8 confusion matrix reported. Test accuracy of every epoch is
also recorded in the history, for comparison with notes/reference.md; it is never used to
choose the model.

Writes to --out: `report.json` (per-epoch history, best epoch, test accuracy, confusion matrix,
timings) and `best_state_dict.pt` (the kept epoch's weights: `sermo import` reads it).
"""

import argparse
import copy
import json
import pathlib
import platform
import re
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from model import ParallelNet, count_parameters  # noqa: E402

EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$", re.IGNORECASE)


def label_of(clip_id: str) -> int:
    name = re.split(r"[\\/]", clip_id)[-1]
    m = RAVDESS_NAME.match(name)
    if not m:
        raise SystemExit(f"clip id {clip_id!r} is not a RAVDESS file name (03-01-EE-II-SS-RR-AA.wav)")
    emotion = int(m.group(3))
    if not 1 <= emotion <= 8:
        raise SystemExit(f"clip id {clip_id!r}: emotion {emotion} is outside 01–08")
    return emotion - 1


def load_cache(cache_dir: pathlib.Path):
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    map_len = int(manifest["map_len"])
    copies = int(manifest["spec"]["augment"]["copies"])
    n_mfcc = int(manifest["spec"].get("features", {}).get("n_mfcc", 40))
    if map_len % n_mfcc:
        raise SystemExit(f"map_len {map_len} is not a multiple of n_mfcc {n_mfcc}")
    clips = manifest["clips"]
    data_path = cache_dir / "features.f32"
    expected = len(clips) * (copies + 1) * map_len * 4
    actual = data_path.stat().st_size
    if actual != expected:
        raise SystemExit(
            f"{data_path}: {actual} bytes, expected {expected} "
            f"({len(clips)} clips × {copies + 1} maps × {map_len} values × 4)"
        )
    data = np.memmap(data_path, dtype="<f4", mode="r", shape=(len(clips), copies + 1, map_len))
    labels = np.array([label_of(c["id"]) for c in clips], dtype=np.int64)
    return manifest, data, labels, copies, n_mfcc, map_len // n_mfcc


def gather(data, labels, examples, copies: int, n_clips: int):
    """(maps [N, map_len] float32, labels [N]) of a split's examples, in the split's order."""
    idx = np.array([(e["clip"], e["copy"]) for e in examples], dtype=np.int64).reshape(-1, 2)
    if len(idx) == 0:
        raise SystemExit("a split is empty")
    if idx[:, 0].min() < 0 or idx[:, 0].max() >= n_clips or idx[:, 1].min() < 0 or idx[:, 1].max() > copies:
        raise SystemExit("the split refers to clips or copies the cache does not hold")
    x = np.stack([np.asarray(data[c, k], dtype=np.float32) for c, k in idx])
    return x, labels[idx[:, 0]], idx


def fit_scaler(x: np.ndarray):
    """Per-position mean and population std in float64 (sklearn's StandardScaler); std 0 → 1."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    std[std < 1e-12] = 1.0
    return mean, std


def evaluate(model, x: torch.Tensor, y: torch.Tensor, batch: int = 128):
    """(accuracy, mean cross-entropy, predictions) in eval mode."""
    model.eval()
    preds, loss_sum = [], 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            logits, _ = model(x[i:i + batch])
            loss_sum += float(nn.functional.cross_entropy(logits, y[i:i + batch], reduction="sum"))
            preds.append(logits.argmax(dim=1))
    pred = torch.cat(preds)
    return float((pred == y).double().mean()), loss_sum / len(x), pred


def confusion(y: np.ndarray, pred: np.ndarray, classes: int = 8):
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    rows = m.sum(axis=1, keepdims=True)
    normalised = np.divide(m, rows, out=np.zeros_like(m, dtype=np.float64), where=rows > 0)
    return m, normalised


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=pathlib.Path, required=True, help="sermo feature cache directory")
    ap.add_argument("--split", type=pathlib.Path, required=True, help="split JSON of a sermo run")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("pytorch-reference"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    manifest, data, labels, copies, n_mfcc, n_frames = load_cache(args.cache)
    split = json.loads(args.split.read_text())
    sets = {}
    for name in ("train", "valid", "test"):
        x, y, idx = gather(data, labels, split[name], copies, len(labels))
        sets[name] = (x, y, idx)
    clip_sets = {k: set(v[2][:, 0].tolist()) for k, v in sets.items()}
    overlap = {
        "train_valid": len(clip_sets["train"] & clip_sets["valid"]),
        "train_test": len(clip_sets["train"] & clip_sets["test"]),
        "valid_test": len(clip_sets["valid"] & clip_sets["test"]),
    }
    if any(overlap.values()):
        print(f"warning: splits share clips {overlap}", file=sys.stderr)

    mean, std = fit_scaler(sets["train"][0])
    tensors = {}
    for name, (x, y, _) in sets.items():
        xs = ((x.astype(np.float64) - mean) / std).astype(np.float32).reshape(-1, 1, n_mfcc, n_frames)
        tensors[name] = (torch.from_numpy(xs), torch.from_numpy(y))
    x_train, y_train = tensors["train"]
    print(
        f"{len(x_train)} train, {len(tensors['valid'][0])} valid, {len(tensors['test'][0])} test maps "
        f"of {n_mfcc}×{n_frames}; noisy copies per clip in the cache: {copies}",
        file=sys.stderr,
    )

    model = ParallelNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay
    )

    history, best = [], None
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(len(x_train)))
        t0 = time.perf_counter()
        loss_sum, correct = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            xb, yb = x_train[batch], y_train[batch]
            optimizer.zero_grad()
            logits, _ = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(dim=1) == yb).sum())
        train_s = time.perf_counter() - t0
        valid_acc, valid_loss, _ = evaluate(model, *tensors["valid"])
        test_acc, _, _ = evaluate(model, *tensors["test"])
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / len(x_train),
            "train_acc": correct / len(x_train),
            "valid_loss": valid_loss,
            "valid_acc": valid_acc,
            "test_acc_not_for_selection": test_acc,
            "train_s": round(train_s, 2),
            "epoch_s": round(time.perf_counter() - t0, 2),
        }
        history.append(row)
        if best is None or valid_acc > best["valid_acc"]:
            best = {"epoch": epoch, "valid_acc": valid_acc, "state_dict": copy.deepcopy(model.state_dict())}
        print(
            f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  train {row['train_acc']:.3f}  "
            f"valid {valid_acc:.3f}  test {test_acc:.3f}  {row['train_s']:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    model.load_state_dict(best["state_dict"])
    test_acc, test_loss, pred = evaluate(model, *tensors["test"])
    counts, normalised = confusion(tensors["test"][1].numpy(), pred.numpy())

    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(best["state_dict"], args.out / "best_state_dict.pt")
    train_times = [r["train_s"] for r in history]
    report = {
        "reference": "reference/train_reference.py",
        "cache": str(args.cache),
        "cache_key": manifest.get("key"),
        "split": str(args.split),
        "seed": args.seed,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "parameters": count_parameters(model),
        "recipe": {
            "loss": "cross-entropy",
            "optimizer": "SGD",
            "lr": args.lr,
            "momentum": args.momentum,
            "weight_decay": args.weight_decay,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "scaling": "per-position mean/std fitted on train",
        },
        "examples": {k: len(v[0]) for k, v in tensors.items()},
        "split_clip_overlap": overlap,
        "best_epoch": best["epoch"],
        "best_valid_acc": best["valid_acc"],
        "test_acc": test_acc,
        "test_loss": test_loss,
        "labels": EMOTIONS,
        "confusion": counts.tolist(),
        "confusion_normalised": normalised.round(4).tolist(),
        "train_s_per_epoch_median": float(np.median(train_times)),
        "train_s_total": float(np.sum(train_times)),
        "history": history,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("best_epoch", "best_valid_acc", "test_acc", "train_s_per_epoch_median")}))


if __name__ == "__main__":
    main()
