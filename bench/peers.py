"""End to end: what a tuning run buys in the same wall time, tunelab beside Optuna and Ray Tune.

One job for all, on the digits data that tunelab loads (the same split and the same
standardization for every peer), the same model built by the same builder, Adam, batch 32,
12 epochs, and one search space:

- ``mlp``: an MLP with two hidden layers; lr 1e-4 to 3e-2 (log), width 16 to 256 (log int),
  dropout 0 to 0.5, weight decay 1e-6 to 1e-2 (log).
- ``cnn``: the digits as 1x8x8 images, a CNN of two convolutional blocks with batch norm;
  channels 8 to 64 (log int, doubled in the second block), the rest as above.

The peers:

- ``optuna``: Optuna's TPE with its Hyperband pruner (min_resource 1, max_resource 12,
  reduction factor 3), an in-memory study, ``n_jobs=2``, and a plain PyTorch loop (shuffle,
  forward, loss, backward, step, then a validation pass, ``report`` and ``should_prune``).
- ``ray``: Ray Tune with its ASHA scheduler (grace period 1, max_t 12, reduction factor 3),
  its HyperOpt search algorithm and 2 concurrent trials of one CPU each, the same plain loop.
- ``tunelab``: ``tunelab run`` of the task with its defaults (sampler ``auto``, the default
  pruner) and ``--n-jobs 2``.
- ``tunelab-fuse``: the same with ``--fuse 32``: each of the 2 worker processes trains the
  trials it takes 32 at a time, as fused populations.

Each run is a fresh process with a budget of ``--budget`` seconds, started on a quiet machine
one after the other, and every peer is timed the same way: from the moment its process is
started (imports, workers and set-up included) to the end of each epoch, as each epoch's
validation accuracy is recorded (Optuna and Ray: in the loop, tunelab: in its telemetry). From
those epoch records, per run: trials started, epochs trained and the best validation accuracy
within 30, 60 and 120 s, and the time of the first epoch whose validation accuracy reaches
``--target`` (0.975). The table gives medians over the seeds.

Usage: ``python bench/peers.py [--jobs mlp cnn] [--peers optuna ray tunelab tunelab-fuse]
[--seeds 0 1 2 3 4] [--budget 120] [--json FILE]``; ``ray`` needs ``ray[tune]`` and
``hyperopt`` (the ``bench`` extra). A full run takes jobs x peers x seeds x (budget + start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EPOCHS = 12
BATCH_SIZE = 32
CHECKPOINTS = (30, 60, 120)
PEERS = ("optuna", "ray", "tunelab", "tunelab-fuse")
FUSE = 32
# One record per trained epoch: (seconds since the run's process started, trial, epoch, accuracy).
Epoch = tuple[float, str, int, float]


@dataclass(frozen=True)
class Job:
    data: dict[str, Any]
    model: dict[str, Any]
    size_key: str  # the searched model size: width or channels
    size_range: tuple[int, int]


JOBS = {
    "mlp": Job({"name": "digits", "val_fraction": 0.2, "seed": 0},
               {"name": "mlp", "depth": 2}, "width", (16, 256)),
    "cnn": Job({"name": "digits_images", "val_fraction": 0.2, "seed": 0},
               {"name": "cnn", "depth": 2, "batch_norm": True}, "channels", (8, 64)),
}
LR = (1e-4, 3e-2)
DROPOUT = (0.0, 0.5)
WEIGHT_DECAY = (1e-6, 1e-2)


def task_spec(job: Job) -> dict[str, Any]:
    """The job as a tunelab task."""
    return {
        "data": job.data,
        "model": job.model,
        "recipe": {"epochs": EPOCHS, "batch_size": BATCH_SIZE, "optimizer": "adam"},
        "search": {
            "lr": {"low": LR[0], "high": LR[1], "log": True},
            f"model.{job.size_key}": {"low": job.size_range[0], "high": job.size_range[1],
                                      "log": True},
            "model.dropout": {"low": DROPOUT[0], "high": DROPOUT[1]},
            "weight_decay": {"low": WEIGHT_DECAY[0], "high": WEIGHT_DECAY[1], "log": True},
        },
    }


# --- the plain PyTorch loop that Optuna and Ray Tune run ---------------------------------

class PlainLoop:
    """The job's data as tensors (standardized with the training part's statistics) and a
    hand-written training loop over them."""

    def __init__(self, job: Job) -> None:
        from tunelab.torch.data import load_data

        split = load_data(job.data)
        mean = split.x_train.mean(dim=0, keepdim=True)
        std = split.x_train.std(dim=0, keepdim=True).clamp_min(1e-6)
        self.x_train, self.y_train = (split.x_train - mean) / std, split.y_train
        self.x_val, self.y_val = (split.x_val - mean) / std, split.y_val
        self.job = job
        self.input_shape = tuple(split.input_shape)
        self.n_classes = split.n_outputs

    def model(self, size: int, dropout: float) -> Any:
        from tunelab.torch.models import build_cnn, build_mlp

        options = {**self.job.model, self.job.size_key: size, "dropout": dropout}
        name = options.pop("name")
        if name == "mlp":
            return build_mlp(int(self.x_train[0].numel()), self.n_classes, **options)
        return build_cnn(self.input_shape, self.n_classes, **options)

    def train(
        self, lr: float, size: int, dropout: float, weight_decay: float, seed: int,
        after_epoch: Callable[[int, float], bool],
    ) -> float:
        """Train; ``after_epoch(epoch, accuracy)`` returns True to stop. The best accuracy."""
        import torch
        from torch.nn import functional as F

        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = self.model(size, dropout)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        best = 0.0
        for epoch in range(1, EPOCHS + 1):
            model.train()
            order = torch.randperm(len(self.x_train), generator=generator)
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start:start + BATCH_SIZE]
                loss = F.cross_entropy(model(self.x_train[batch]), self.y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                accuracy = (model(self.x_val).argmax(1) == self.y_val).float().mean().item()
            best = max(best, accuracy)
            if after_epoch(epoch, accuracy):
                break
        return best


def run_optuna(job: Job, seed: int, budget: float, started: float) -> list[Epoch]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    loop = PlainLoop(job)
    epochs: list[Epoch] = []
    lock = threading.Lock()

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", *LR, log=True)
        size = trial.suggest_int(job.size_key, *job.size_range, log=True)
        dropout = trial.suggest_float("dropout", *DROPOUT)
        weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY, log=True)

        def after_epoch(epoch: int, accuracy: float) -> bool:
            with lock:
                epochs.append((time.time() - started, str(trial.number), epoch, accuracy))
            trial.report(accuracy, epoch)
            return trial.should_prune()

        return loop.train(lr, size, dropout, weight_decay, seed + trial.number, after_epoch)

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS,
                                              reduction_factor=3),
    )
    study.optimize(objective, timeout=budget, n_jobs=2)
    return epochs


def run_ray(job: Job, seed: int, budget: float, started: float) -> list[Epoch]:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.hyperopt import HyperOptSearch

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")

    def trainable(config: dict[str, Any]) -> None:
        loop = PlainLoop(job)

        def after_epoch(epoch: int, accuracy: float) -> bool:
            tune.report({"accuracy": accuracy, "epoch": epoch, "wall": time.time()})
            return False  # ASHA stops the trial from outside

        loop.train(config["lr"], config["size"], config["dropout"], config["weight_decay"],
                   seed, after_epoch)

    space = {
        "lr": tune.loguniform(*LR),
        "size": tune.lograndint(job.size_range[0], job.size_range[1] + 1),
        "dropout": tune.uniform(*DROPOUT),
        "weight_decay": tune.loguniform(*WEIGHT_DECAY),
    }
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="accuracy", mode="max", num_samples=-1, time_budget_s=budget,
                max_concurrent_trials=2,
                search_alg=HyperOptSearch(random_state_seed=seed),
                scheduler=ASHAScheduler(time_attr="epoch", max_t=EPOCHS, grace_period=1,
                                        reduction_factor=3),
            ),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        )
        results = tuner.fit()
        epochs: list[Epoch] = []
        for result in results:
            frame = result.metrics_dataframe
            if frame is None:
                continue
            for row in frame.itertuples():
                epochs.append((row.wall - started, result.path, int(row.epoch), row.accuracy))
    ray.shutdown()
    return epochs


def run_tunelab(job: Job, seed: int, budget: float, started: float, fuse: bool) -> list[Epoch]:
    """``tunelab run`` as a user types it, in its own process, then its telemetry read back."""
    import tunelab
    from tunelab.telemetry import read_telemetry

    with tempfile.TemporaryDirectory() as folder:
        storage = f"sqlite:///{folder}/peers.db"
        study_file = Path(folder) / "study.yaml"
        study_file.write_text(yaml.safe_dump({
            "name": "peers", "storage": storage, "seed": seed,
            "task": {**task_spec(job), "artifacts": f"{folder}/artifacts"},
        }), encoding="utf-8")
        command = [str(Path(sys.executable).parent / "tunelab"), "run", str(study_file),
                   "--timeout", str(budget)]
        command += ["--n-jobs", "2"] + (["--fuse", str(FUSE)] if fuse else [])
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=folder)
        records = tunelab.load_study(study_name="peers", storage=storage).trials
        epochs: list[Epoch] = []
        for record in records:
            for entry in read_telemetry(record):
                assert entry.finished_at is not None, "telemetry without epoch end times"
                epochs.append((entry.finished_at - started, str(record.number), entry.epoch,
                               entry.val_metric))
    return epochs


def run_one(peer: str, job: Job, seed: int, budget: float, started: float) -> list[Epoch]:
    if peer == "optuna":
        return run_optuna(job, seed, budget, started)
    if peer == "ray":
        return run_ray(job, seed, budget, started)
    return run_tunelab(job, seed, budget, started, fuse=peer == "tunelab-fuse")


# --- summarizing -------------------------------------------------------------------------

def checkpoints(budget: float) -> list[int]:
    """The times the table reports at: those of CHECKPOINTS within the budget, and the budget."""
    return sorted({*(c for c in CHECKPOINTS if c < budget), int(budget)})


def summarize(epochs: list[Epoch], target: float, budget: float) -> dict[str, Any]:
    """Trials, epochs and best accuracy at each checkpoint; the time ``target`` was first
    reached within the budget (None if it was not)."""
    figures: dict[str, Any] = {}
    for limit in checkpoints(budget):
        within = [e for e in epochs if e[0] <= limit]
        figures[f"trials@{limit}"] = len({e[1] for e in within})
        figures[f"epochs@{limit}"] = len(within)
        figures[f"best@{limit}"] = max((e[3] for e in within), default=0.0)
    reached = [e[0] for e in epochs if e[3] >= target and e[0] <= budget]
    figures["to_target"] = min(reached) if reached else None
    return figures


def median(values: list[Any]) -> Any:
    known = [v for v in values if v is not None]
    if len(known) * 2 <= len(values):  # most runs never got there: the median did not either
        return None
    return statistics.median([v if v is not None else float("inf") for v in values])


def table(job: str, runs: dict[str, list[dict[str, Any]]], target: float, budget: float) -> str:
    limits = checkpoints(budget)
    head = ["peer", "seeds"]
    head += [f"trials {c} s" for c in limits] + [f"epochs {c} s" for c in limits]
    head += [f"best {c} s" for c in limits] + [f"to {target} (s)"]
    lines = [f"#### {job}: medians over seeds", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for peer, figures in runs.items():
        cells = [peer, str(len(figures))]
        for key, form in (("trials", "{:.0f}"), ("epochs", "{:.0f}"), ("best", "{:.4f}")):
            cells += [form.format(median([f[f"{key}@{c}"] for f in figures])) for c in limits]
        reached = median([f["to_target"] for f in figures])
        cells.append("not reached" if reached is None else f"{reached:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(runs: dict[str, list[dict[str, Any]]], budget: float) -> str:
    """Epochs trained and time to target, each peer against Optuna."""
    if "optuna" not in runs:
        return ""
    limit = checkpoints(budget)[-1]
    base = median([f[f"epochs@{limit}"] for f in runs["optuna"]])
    lines = []
    for peer, figures in runs.items():
        epochs = median([f[f"epochs@{limit}"] for f in figures])
        lines.append(f"- {peer}: epochs in {limit} s / Optuna's = {epochs / base:.2f}")
    return "\n".join(lines)


def environment() -> str:
    import torch

    versions = [f"torch {torch.__version__}"]
    for name in ("optuna", "ray", "tunelab"):
        try:
            module = __import__(name)
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{', '.join(versions)}; load average before the runs: {load:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", nargs="+", choices=sorted(JOBS), default=["mlp", "cnn"])
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--target", type=float, default=0.975)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=4, metavar=("PEER", "JOB", "SEED", "STARTED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process: run one peer and print its epoch records
        peer, job, seed, started = args.one
        epochs = run_one(peer, JOBS[job], int(seed), args.budget, float(started))
        print(json.dumps(epochs))
        return
    print(environment(), "\n")
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for job in args.jobs:
        figures[job] = {peer: [] for peer in args.peers}
        for seed in args.seeds:
            for peer in args.peers:
                started = time.time()
                output = subprocess.run(
                    [sys.executable, __file__, "--budget", str(args.budget),
                     "--one", peer, job, str(seed), repr(started)],
                    check=True, capture_output=True, text=True,
                ).stdout
                epochs = json.loads(output.strip().splitlines()[-1])
                figures[job][peer].append(summarize(epochs, args.target, args.budget))
                print(f"{job} seed {seed} {peer}: {figures[job][peer][-1]}", file=sys.stderr)
        print(table(job, figures[job], args.target, args.budget), "\n")
        print(ratios(figures[job], args.budget), "\n")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
