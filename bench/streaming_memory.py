"""Peak memory of one epoch on a data set larger than memory should allow: streamed from disk.

Writes a CIFAR-sized data set (3x32x32 uint8 images, 10 classes, seeded noise) of
``--gigabytes`` decoded, as a NumPy array file (``.npy``, read a row at a time) and as an image
folder of PNG files (one subfolder per class, each image decoded when it is read), then trains
a small CNN for one epoch on each in a fresh process, its data spec left at ``stream: auto``
(which streams data this large) with ``--workers`` loader processes. The peak resident memory
of the training process and its loader workers is taken three ways: the largest sum over the
process tree of each process's proportional set size (its private memory plus its share of
what it shares with others, such as the pages the workers inherit from the training process),
sampled every 0.2 s; the training process's own peak resident set, which the kernel keeps
(``VmHWM``); and ``getrusage``'s ``ru_maxrss`` of the largest loader worker (counting the pages
it shares with the training process in full). The training process's ``ru_maxrss`` is not
used: Linux carries a parent's peak into it across fork and exec, so it would report the
memory this script used to write the data. The target is under 1.5 GB.
``--stream true`` streams even small data (the test of this script does). The data are
deleted after.

Usage: ``python bench/streaming_memory.py [--gigabytes 4] [--folder DIR] [--formats npy png]
[--workers 2] [--batch-size 256] [--json FILE]``; the last line printed is the JSON of the
results. On 2 cores the 4 GB run writes the PNG files in about a quarter of an hour and trains
each epoch in a few minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SHAPE = (3, 32, 32)
CLASSES = 10
CHUNK = 20_000
PEAK_TARGET_MB = 1536


def write_npy(folder: Path, n: int) -> None:
    """x.npy (uint8 images) and y.npy (labels), written a chunk at a time."""
    x = np.lib.format.open_memmap(folder / "x.npy", "w+", np.uint8, (n, *IMAGE_SHAPE))
    for start in range(0, n, CHUNK):
        x[start:start + CHUNK] = _images(start, min(CHUNK, n - start))
        x.flush()
    del x
    np.save(folder / "y.npy", np.arange(n) % CLASSES)


def write_png(folder: Path, n: int) -> None:
    """One PNG file per image under folder/<class>/."""
    from PIL import Image

    for label in range(CLASSES):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
    for start in range(0, n, CHUNK):
        images = _images(start, min(CHUNK, n - start)).transpose(0, 2, 3, 1)
        for offset, image in enumerate(images):
            index = start + offset
            Image.fromarray(image).save(folder / f"class_{index % CLASSES}" / f"{index}.png",
                                        compress_level=1)


def _images(start: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(start)
    return rng.integers(0, 256, (count, *IMAGE_SHAPE), dtype=np.uint8)


def train_one_epoch(spec: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """Runs in the measured process: one epoch of a small CNN on the streamed data."""
    import logging

    import torch

    from tunelab.torch.data import StreamedSplit, load_data
    from tunelab.torch.models import build_model
    from tunelab.torch.recipe import Recipe
    from tunelab.torch.trainer import Trainer

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    data = load_data(spec)
    loaded = time.perf_counter() - started
    torch.manual_seed(0)
    model = build_model({"name": "cnn", "depth": 1, "channels": 8}, data.input_shape,
                        data.n_outputs)
    recipe = Recipe(epochs=1, batch_size=batch_size, normalization="none")
    result = Trainer(model, data, recipe).fit()
    return {
        "streamed": isinstance(data, StreamedSplit),
        "load_seconds": loaded,
        "epoch_seconds": result.history[0].epoch_time,
        "val_accuracy": result.best_value,
        "self_peak_rss_mb": _peak_resident_mb(),
        "workers_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def measure(spec: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """Train in a fresh process; its results and the peak memory of its process tree."""
    import psutil

    command = [sys.executable, __file__, "--train", json.dumps(spec), "--batch-size",
               str(batch_size)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    process, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_full_info().pss for p in tree))
        except psutil.Error:  # a process ended between listing and reading it
            pass
        time.sleep(0.2)
    output, _ = child.communicate()
    if child.returncode:
        raise SystemExit(f"training failed with exit code {child.returncode}")
    return {**json.loads(output.splitlines()[-1]), "tree_peak_pss_mb": peak / 2**20}


def _peak_resident_mb() -> float:
    """This process's peak resident set since it started (Linux's VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kilobytes
    raise RuntimeError("/proc/self/status has no VmHWM line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--folder", default="/tmp/tunelab-streaming-bench")
    parser.add_argument("--formats", nargs="+", choices=["npy", "png"], default=["npy", "png"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stream", choices=["auto", "true"], default="auto")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json", default=None)
    parser.add_argument("--train", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train is not None:
        print(json.dumps(train_one_epoch(json.loads(args.train), args.batch_size)))
        return
    n = int(args.gigabytes * 1e9 / np.prod(IMAGE_SHAPE))
    root = Path(args.folder)
    rows = []
    for kind in args.formats:
        folder = root / kind
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        started = time.perf_counter()
        (write_npy if kind == "npy" else write_png)(folder, n)
        written = time.perf_counter() - started
        on_disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        spec: dict[str, Any] = {"num_workers": args.workers,
                                "stream": True if args.stream == "true" else "auto"}
        if kind == "npy":
            spec |= {"name": "npy", "x": str(folder / "x.npy"), "y": str(folder / "y.npy")}
        else:
            spec |= {"name": "image_folder", "path": str(folder), "grayscale": False}
        try:
            result = measure(spec, args.batch_size)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        row = {"format": kind, "images": n, "decoded_gb": n * np.prod(IMAGE_SHAPE) / 1e9,
               "on_disk_gb": on_disk / 1e9, "write_seconds": written, **result}
        rows.append(row)
        print(f"{kind}: {n} images ({row['decoded_gb']:.2f} GB decoded, "
              f"{row['on_disk_gb']:.2f} GB on disk) written in {written:.0f} s; streamed: "
              f"{row['streamed']}; epoch {row['epoch_seconds']:.0f} s; peak memory (PSS) of the "
              f"tree {row['tree_peak_pss_mb']:.0f} MB (training process "
              f"{row['self_peak_rss_mb']:.0f} MB, largest worker "
              f"{row['workers_maxrss_mb']:.0f} MB)", flush=True)
    report = {"workers": args.workers, "batch_size": args.batch_size,
              "target_mb": PEAK_TARGET_MB, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
