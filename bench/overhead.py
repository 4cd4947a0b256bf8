"""Per-trial overhead of tunelab (sampler + storage), beside Optuna's, measured in the same run.

Workload: random search, seeded on both sides (tunelab ``sampler="random", seed=0``; Optuna
``RandomSampler(seed=0)``), over an objective with five parameters (two uniform floats, a
log-scaled float, an int and a categorical) that returns cheap arithmetic, so that the time
measured is the library's own cost per trial. Optuna's logging is silenced.

1. Overhead: wall time of ``study.optimize(objective, n_trials=N)`` divided by N, for each
   storage: in memory, and a fresh SQLite file per library and per run (``sqlite:///path``;
   Optuna's RDBStorage). Optuna's SQLite defaults (rollback journal, ``synchronous=FULL``)
   sync to disk more often than tunelab's (WAL, ``synchronous=NORMAL``), so a third row runs
   Optuna with tunelab's settings to tell the durability policy apart from the code. Each
   figure is the median of ``--repeat`` runs, after an untimed warm-up of every library and
   storage.
2. History: one SQLite study per library, grown with ``optimize`` to H/10 and then H finished
   trials. At each size, ``load_study`` plus reading ``study.trials`` is timed (median of three
   cold opens), then the study is reopened and 50 more trials (10 with ``--quick``) are timed,
   to show whether the cost of a trial grows with the history.

Usage: ``python bench/overhead.py [--trials N] [--history H] [--repeat R] [--quick]
[--no-optuna-history] [--json FILE]``. A full run takes about 6 minutes on 2 cores, most of it
Optuna on SQLite; ``--quick`` (50 trials, history 1,000, one repeat, no Optuna history) a few
seconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy

import tunelab
from report import environment as report_environment  # bench/report.py, beside this file
from report import markdown_table

STORAGE_KINDS: dict[str, str] = {
    "memory": "in-memory",
    "sqlite": "SQLite, each library's defaults",
    "sqlite-wal": "SQLite, both WAL + synchronous=NORMAL",
}
STUDY_NAME = "bench"
WARM_UP_TRIALS = 10
LOAD_REPEATS = 3


def objective(trial: Any) -> float:
    """Five parameters and cheap arithmetic; the same code runs on a tunelab or an Optuna trial."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 8)
    activation = trial.suggest_categorical("activation", ["relu", "tanh", "gelu"])
    return x * x + y + lr * layers + (0.1 if activation == "relu" else 0.0)


@dataclass(frozen=True)
class Library:
    """How the benchmark builds storages and creates or reopens studies of one library."""

    name: str
    storage: Callable[[str, Path], Any]
    create: Callable[[Any], Any]
    load: Callable[[Any], Any]


def tunelab_storage(kind: str, path: Path) -> str | None:
    """tunelab's SQLite defaults already are WAL + synchronous=NORMAL."""
    return None if kind == "memory" else f"sqlite:///{path}"


def tunelab_create(storage: Any) -> tunelab.Study:
    return tunelab.create_study(name=STUDY_NAME, storage=storage, sampler="random", seed=0)


def tunelab_load(storage: Any) -> tunelab.Study:
    return tunelab.load_study(STUDY_NAME, storage, sampler="random", seed=0)


def wal_connection(path: Path) -> sqlite3.Connection:
    """A SQLite connection with the journal and sync settings tunelab uses."""
    connection = sqlite3.connect(path, timeout=60, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def optuna_storage(kind: str, path: Path) -> Any:
    if kind == "memory":
        return None
    if kind == "sqlite":
        return f"sqlite:///{path}"
    creator = functools.partial(wal_connection, path)
    return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"creator": creator})


def optuna_create(storage: Any) -> optuna.Study:
    sampler = optuna.samplers.RandomSampler(seed=0)
    return optuna.create_study(study_name=STUDY_NAME, storage=storage, sampler=sampler)


def optuna_load(storage: Any) -> optuna.Study:
    sampler = optuna.samplers.RandomSampler(seed=0)
    return optuna.load_study(study_name=STUDY_NAME, storage=storage, sampler=sampler)


TUNELAB = Library("tunelab", tunelab_storage, tunelab_create, tunelab_load)
OPTUNA = Library("optuna", optuna_storage, optuna_create, optuna_load)
LIBRARIES = (TUNELAB, OPTUNA)


def fresh_path(workdir: Path) -> Path:
    """A database path in a new folder, so every run starts from an empty file."""
    return Path(tempfile.mkdtemp(dir=workdir)) / "study.db"


def time_optimize(study: Any, n_trials: int) -> float:
    """Seconds taken by ``study.optimize(objective, n_trials=n_trials)``."""
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    return time.perf_counter() - start


# Overhead ---------------------------------------------------------------------------------


def run_once(library: Library, kind: str, n_trials: int, workdir: Path) -> float:
    """Milliseconds per trial of one optimize run on a new study."""
    study = library.create(library.storage(kind, fresh_path(workdir)))
    return time_optimize(study, n_trials) / n_trials * 1e3


def warm_up(workdir: Path) -> None:
    """Untimed runs, so that imports, statement compilation and first calls are not counted."""
    for kind in STORAGE_KINDS:
        for library in LIBRARIES:
            run_once(library, kind, WARM_UP_TRIALS, workdir)


def measure_overhead(kind: str, n_trials: int, repeat: int, workdir: Path) -> dict[str, Any]:
    """Median ms/trial of each library on one storage kind; libraries alternate between runs."""
    runs: dict[str, list[float]] = {library.name: [] for library in LIBRARIES}
    for _ in range(repeat):
        for library in LIBRARIES:
            runs[library.name].append(run_once(library, kind, n_trials, workdir))
    tunelab_ms = statistics.median(runs["tunelab"])
    optuna_ms = statistics.median(runs["optuna"])
    return {
        "storage": kind,
        "trials": n_trials,
        "tunelab_ms": tunelab_ms,
        "optuna_ms": optuna_ms,
        "ratio": tunelab_ms / optuna_ms,
        "runs": runs,
    }


# History ----------------------------------------------------------------------------------


def time_load(library: Library, storage: Any) -> tuple[float, int]:
    """Seconds to open the study from a fresh storage and read all its trials; how many."""
    start = time.perf_counter()
    study = library.load(storage)
    n_trials = len(study.trials)
    return time.perf_counter() - start, n_trials


def measure_checkpoint(library: Library, storage: Any, extra: int) -> dict[str, Any]:
    """Load time of the study as it stands, then ms/trial of ``extra`` trials after reopening."""
    loads = [time_load(library, storage) for _ in range(LOAD_REPEATS)]
    reopened = library.load(storage)
    return {
        "finished_trials": loads[0][1],
        "load_s": statistics.median(seconds for seconds, _ in loads),
        "ms_per_trial": time_optimize(reopened, extra) / extra * 1e3,
    }


def measure_history(
    library: Library, sizes: tuple[int, ...], extra: int, workdir: Path
) -> dict[str, Any]:
    """Grow one SQLite study to each size in turn and measure it there."""
    storage = library.storage("sqlite", fresh_path(workdir))
    study = library.create(storage)
    build_s = 0.0
    checkpoints = []
    for size in sizes:
        build_s += time_optimize(study, size - len(study.trials))
        checkpoints.append(measure_checkpoint(library, storage, extra))
    return {"library": library.name, "build_s": build_s, "checkpoints": checkpoints}


# Report -----------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    return {
        **report_environment(
            optuna=optuna.__version__,
            sqlalchemy=sqlalchemy.__version__,
            sqlite=sqlite3.sqlite_version,
        ),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }


def overhead_table(rows: list[dict[str, Any]]) -> str:
    headers = ["storage", "trials", "tunelab ms/trial", "optuna ms/trial", "tunelab/optuna"]
    body = [
        [
            STORAGE_KINDS[row["storage"]],
            f"{row['trials']:,}",
            f"{row['tunelab_ms']:.3f}",
            f"{row['optuna_ms']:.3f}",
            f"{row['ratio']:.2f}",
        ]
        for row in rows
    ]
    return markdown_table(headers, body)


def history_cells(history: dict[str, Any] | None, index: int) -> tuple[str, str]:
    """ms/trial and load time at one checkpoint, or n/a for a library that was skipped."""
    if history is None:
        return "n/a", "n/a"
    point = history["checkpoints"][index]
    return f"{point['ms_per_trial']:.3f}", f"{point['load_s']:.3f}"


def comparison_row(
    label: str, tunelab_cell: str, optuna_cell: str, with_ratio: bool = True
) -> list[str]:
    """A table row with both figures and, where both were measured, their ratio."""
    measured = with_ratio and optuna_cell != "n/a"
    ratio = f"{float(tunelab_cell) / float(optuna_cell):.2f}" if measured else "n/a"
    return [label, tunelab_cell, optuna_cell, ratio]


def history_table(
    sizes: tuple[int, ...],
    extra: int,
    tunelab_history: dict[str, Any],
    optuna_history: dict[str, Any] | None,
) -> str:
    headers = ["measurement (SQLite)", "tunelab", "optuna", "tunelab/optuna"]
    trial_rows, load_rows = [], []
    for index, size in enumerate(sizes):
        tunelab_ms, tunelab_load = history_cells(tunelab_history, index)
        optuna_ms, optuna_load = history_cells(optuna_history, index)
        trial_label = f"ms/trial, {extra} trials after {size:,}"
        trial_rows.append(comparison_row(trial_label, tunelab_ms, optuna_ms))
        load_label = f"load_study + trials at {size:,} (s)"
        load_rows.append(comparison_row(load_label, tunelab_load, optuna_load))
    growth_label = f"ms/trial growth, {sizes[-1]:,} vs {sizes[0]:,}"
    build_label = f"build {sizes[-1]:,} trials with optimize (s)"
    rows = [
        *trial_rows,
        comparison_row(
            growth_label, growth_cell(tunelab_history), growth_cell(optuna_history), False
        ),
        *load_rows,
        comparison_row(build_label, build_cell(tunelab_history), build_cell(optuna_history)),
    ]
    return markdown_table(headers, rows)


def growth_cell(history: dict[str, Any] | None) -> str:
    if history is None:
        return "n/a"
    points = history["checkpoints"]
    return f"x{points[-1]['ms_per_trial'] / points[0]['ms_per_trial']:.2f}"


def build_cell(history: dict[str, Any] | None) -> str:
    return "n/a" if history is None else f"{history['build_s']:.1f}"


def environment_lines(env: dict[str, Any]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in env.items())


# Main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000, help="trials per overhead run")
    parser.add_argument("--history", type=int, default=10_000, help="largest history size")
    parser.add_argument("--repeat", type=int, default=3, help="overhead runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 trials, history 1,000")
    parser.add_argument("--no-optuna-history", action="store_true", help="skip Optuna's history")
    parser.add_argument("--json", type=Path, help="save the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.history, args.repeat, args.no_optuna_history = 50, 1000, 1, True
    args.extra = 10 if args.quick else 50
    if args.trials < 1 or args.repeat < 1 or args.history // 10 + args.extra > args.history:
        smallest = args.extra * 10 // 9 + 1
        parser.error(f"need --trials >= 1, --repeat >= 1 and --history >= {smallest}")
    return args


def run_benchmarks(args: argparse.Namespace, sizes: tuple[int, ...]) -> dict[str, Any]:
    """Every measurement, printing the overhead table as soon as it is known."""
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        workdir = Path(tmp)
        warm_up(workdir)
        overhead = [
            measure_overhead(kind, args.trials, args.repeat, workdir) for kind in STORAGE_KINDS
        ]
        print(f"## Random search, {args.trials:,} trials, median of {args.repeat}\n")
        print(overhead_table(overhead) + "\n", flush=True)
        tunelab_history = measure_history(TUNELAB, sizes, args.extra, workdir)
        optuna_history = (
            None if args.no_optuna_history else measure_history(OPTUNA, sizes, args.extra, workdir)
        )
    return {"overhead": overhead, "tunelab": tunelab_history, "optuna": optuna_history}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    env = environment()
    sizes = (args.history // 10, args.history)
    print(f"# tunelab per-trial overhead vs Optuna\n\n{environment_lines(env)}\n", flush=True)
    results = run_benchmarks(args, sizes)
    print("## Cost with history (SQLite, each library's defaults)\n")
    print(history_table(sizes, args.extra, results["tunelab"], results["optuna"]))
    env["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(f"\n- load_average_1min_at_end: {env['load_average_1min_at_end']}")
    if args.json is not None:
        figures = {
            "environment": env,
            "settings": {"trials": args.trials, "history": list(sizes), "extra": args.extra,
                         "repeat": args.repeat},
            "overhead": results["overhead"],
            "history": [results[name] for name in ("tunelab", "optuna") if results[name]],
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
