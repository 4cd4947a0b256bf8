"""Import time of a 10,000-trial Optuna SQLite study into a fresh tunelab SQLite file.

Optuna writes the study itself: random search in its in-memory storage over a mix of
parameters (uniform, log and stepped floats, stepped and log ints, a categorical with a
conditional parameter), three intermediate values per trial, every 5th trial pruned and every
7th failed, then ``optuna.copy_study`` into the SQLite file (the slow part, minutes; keep the
file with ``--source`` to measure again without rebuilding it). Each run imports the whole study
with ``tunelab.storage.import_optuna`` into a new file; the table gives the median of the runs
and, beside it, how long Optuna itself takes to load the same study's trials from that file.

    .venv/bin/python bench/import_optuna.py                        # 10,000 trials, 3 runs
    .venv/bin/python bench/import_optuna.py --source /tmp/optuna-10k.db --repeat 5
    .venv/bin/python bench/import_optuna.py --trials 500 --repeat 1   # smoke run in seconds
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import optuna

import tunelab
from report import environment, markdown_table  # bench/report.py, beside this file
from tunelab.storage import import_optuna

STUDY = "bench-import"


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    trial.suggest_float("dropout", 0.0, 0.5, step=0.125)
    trial.suggest_int("layers", 1, 9, step=2)
    trial.suggest_int("width", 4, 256, log=True)
    if trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"]) == "sgd":
        trial.suggest_float("momentum", 0.0, 0.99)
    if trial.number % 7 == 3:
        raise ValueError("diverged")
    loss = (x - 1.0) ** 2 + (math.log10(lr) + 2.0) ** 2
    for step in range(3):
        trial.report(loss + 3 - step, step)
    if trial.number % 5 == 1:
        raise optuna.TrialPruned()
    return loss


def build_source(path: Path, n_trials: int) -> float:
    """Write the Optuna study into ``path`` (whole or not at all); the seconds it took."""
    start = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name=STUDY, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials, catch=(ValueError,))
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    optuna.copy_study(
        from_study_name=STUDY, from_storage=study._storage, to_storage=f"sqlite:///{partial}"
    )
    partial.rename(path)
    return time.perf_counter() - start


def time_import(source: Path, folder: Path, run: int) -> tuple[float, int]:
    """Seconds to import the study into a new tunelab file, and the trials it then holds."""
    target = f"sqlite:///{folder / f'tunelab-{run}.db'}"
    start = time.perf_counter()
    import_optuna(f"sqlite:///{source}", target)
    seconds = time.perf_counter() - start
    return seconds, len(tunelab.load_study(STUDY, target).trials)


def time_optuna_load(source: Path) -> float:
    start = time.perf_counter()
    optuna.load_study(study_name=STUDY, storage=f"sqlite:///{source}").get_trials(deepcopy=False)
    return time.perf_counter() - start


def shown_load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source", type=Path, help="the Optuna SQLite file: used if it exists, "
                        "else written there and kept")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        source = args.source or folder / "optuna.db"
        built = None if source.exists() else build_source(source, args.trials)
        runs = [time_import(source, folder, run) for run in range(args.repeat)]
        optuna_loads = [time_optuna_load(source) for _ in range(args.repeat)]
    load_after = os.getloadavg()

    n_trials = runs[0][1]
    for key, value in environment(optuna=optuna.__version__).items():
        print(f"- {key}: {value}")
    print(f"- load average (1, 5, 15 min): {shown_load(load_before)} before, "
          f"{shown_load(load_after)} after")
    if built is not None:
        print(f"- writing the Optuna study took {built:.1f} s")
    print()
    print(markdown_table(
        ["measurement", "trials", "seconds (median)", "trials/s", "runs (s)"],
        [
            row("import_optuna (tunelab import-optuna) into a new SQLite file", n_trials,
                [s for s, _ in runs]),
            row("for scale: Optuna loading the same trials", n_trials, optuna_loads),
        ],
    ))


def row(label: str, n_trials: int, runs: list[float]) -> list[str]:
    median = statistics.median(runs)
    return [label, f"{n_trials:,}", f"{median:.2f}", f"{n_trials / median:,.0f}",
            ", ".join(f"{s:.2f}" for s in runs)]


if __name__ == "__main__":
    main()
