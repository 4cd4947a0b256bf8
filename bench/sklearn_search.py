"""TuneSearchCV beside RandomizedSearchCV on the same budget: the score each one finds, the
work it does and its wall time.

Two jobs, each searched with the same distributions, the same folds (shuffled with the seed) and
the same number of candidates (``n_iter`` = ``n_trials``, so at most the same number of fits):

* ``diabetes``: Ridge and Lasso (``alpha``) and ElasticNet (``alpha``, ``l1_ratio``) on
  scikit-learn's diabetes data, 5 folds, R²; 20 candidates per model;
* ``digits-mlp``: an ``MLPClassifier`` on the digits (learning rate, L2 ``alpha``, width,
  batch size), 3 stratified folds, accuracy, 16 candidates of ``--epochs`` epochs each.
  RandomizedSearchCV fits each candidate with ``max_iter=epochs``; TuneSearchCV either fits
  the same way and prunes between folds (``folds``), or trains by ``partial_fit`` one epoch at
  a time on all folds and prunes between epochs (``epochs``: scored every
  ``ceil(epochs / 5)`` epochs, its default; ``epochs scored each``: after every epoch).

TuneSearchCV runs with its defaults (the TPE sampler, the median pruner); on the diabetes
models, whose fits take milliseconds, also with ``sampler="auto"``, which picks a Gaussian
process for these small spaces, whose suggestions cost more. Each method's
chosen parameters are then scored again with one cross-validation that no search saw (10
folds: 5-fold repeated twice for diabetes, 5 stratified folds for the digits, on other
shuffles), so that a lucky split does not count: that is the score in the table (mean ± sem
over seeds, and on how many seeds TuneSearchCV's is higher / equal / lower). ``work`` counts
the fits (for the MLP, the epochs trained); ``time`` is the search's wall time, one process
for both; the ratio is TuneSearchCV's time over RandomizedSearchCV's in the same seed.

The math libraries get one thread (set before numpy loads, unless the environment sets them),
so that both searches run alike on a shared machine.

Usage: ``nice -n 10 .venv/bin/python bench/sklearn_search.py [--seeds 0 1 2 3 4]
[--jobs diabetes digits-mlp] [--epochs 15] [--quick]``.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from scipy.stats import loguniform, uniform  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, Ridge  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    KFold,
    RandomizedSearchCV,
    RepeatedKFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.neural_network import MLPClassifier  # noqa: E402

import tunelab  # noqa: E402
from tunelab.sklearn import TuneSearchCV  # noqa: E402

RANDOM = "RandomizedSearchCV"
EVALUATION_SEED = 12345


@dataclass
class Job:
    """One search problem: a model, its space and budget, and how each method runs it."""

    name: str
    data: Callable[[], tuple[np.ndarray, np.ndarray]]
    estimator: Callable[[int], Any]  # seed -> estimator
    distributions: dict[str, Any]
    n_iter: int
    folds: Callable[[int], Any]  # seed -> the search's splitter
    evaluation: Any  # the splitter every method's choice is scored on
    tunelab_options: dict[str, dict[str, Any]]  # method name -> TuneSearchCV's options
    epochs: int = 1  # the training a fit does, for counting work


def linear_jobs(n_iter: int) -> list[Job]:
    alpha = loguniform(1e-4, 1e2)
    models: dict[str, tuple[Callable[[int], Any], dict[str, Any]]] = {
        "Ridge": (lambda seed: Ridge(), {"alpha": alpha}),
        "Lasso": (lambda seed: Lasso(max_iter=5000), {"alpha": alpha}),
        "ElasticNet": (
            lambda seed: ElasticNet(max_iter=5000),
            {"alpha": alpha, "l1_ratio": uniform(0.05, 0.95)},
        ),
    }
    return [
        Job(
            f"diabetes {name}",
            lambda: load_diabetes(return_X_y=True),
            estimator,
            space,
            n_iter,
            lambda seed: KFold(5, shuffle=True, random_state=seed),
            RepeatedKFold(n_splits=5, n_repeats=2, random_state=EVALUATION_SEED),
            {"TuneSearchCV": {}, "TuneSearchCV auto": {"sampler": "auto"}},
        )
        for name, (estimator, space) in models.items()
    ]


def mlp_job(n_iter: int, epochs: int) -> Job:
    def digits() -> tuple[np.ndarray, np.ndarray]:
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y

    def estimator(seed: int) -> MLPClassifier:
        # exactly `epochs` epochs per fit: no stopping on a stalled loss
        return MLPClassifier(max_iter=epochs, n_iter_no_change=epochs + 1, random_state=seed)

    return Job(
        "digits MLPClassifier",
        digits,
        estimator,
        {
            "learning_rate_init": loguniform(1e-4, 3e-1),
            "alpha": loguniform(1e-6, 1e0),
            "hidden_layer_sizes": [(16,), (32,), (64,), (128,)],
            "batch_size": [32, 64, 128, 256],
        },
        n_iter,
        lambda seed: StratifiedKFold(3, shuffle=True, random_state=seed),
        StratifiedKFold(5, shuffle=True, random_state=EVALUATION_SEED),
        {
            "TuneSearchCV folds": {},
            "TuneSearchCV epochs": {"partial_fit_epochs": epochs},
            "TuneSearchCV epochs scored each": {
                "partial_fit_epochs": epochs, "score_every_epochs": 1,
            },
        },
        epochs=epochs,
    )


def run(job: Job, method: str, seed: int, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """One search: its chosen parameters' evaluation score, its work and its wall time."""
    estimator = job.estimator(seed)
    folds = job.folds(seed)
    if method == RANDOM:
        search: Any = RandomizedSearchCV(
            estimator, job.distributions, n_iter=job.n_iter, cv=folds, random_state=seed
        )
    else:
        options = job.tunelab_options[method]
        search = TuneSearchCV(
            estimator, job.distributions, n_trials=job.n_iter, cv=folds, random_state=seed,
            **options,
        )
    start = time.perf_counter()
    search.set_params(refit=False).fit(X, y)
    seconds = time.perf_counter() - start
    chosen = clone(estimator).set_params(**search.best_params_)
    score = float(np.mean(cross_val_score(chosen, X, y, cv=job.evaluation)))
    return {"score": score, "work": work(search, method, job), "seconds": seconds}


def work(search: Any, method: str, job: Job) -> int:
    """Fits the search made, times the epochs each trained."""
    if search.get_params().get("partial_fit_epochs"):  # all folds, epoch by epoch
        return sum(  # a trial trained up to its last scored epoch
            (max(record.intermediate_values) + 1) * search.n_splits_
            for record in search.trials_
        )
    results = search.cv_results_
    splits = [k for k in results if k.startswith("split") and k.endswith("_test_score")]
    return int(sum(np.isfinite(results[k]).sum() for k in splits)) * job.epochs


def sem(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def table(job: Job, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    base = runs[RANDOM]
    lines = []
    for method, results in runs.items():
        scores = [r["score"] for r in results]
        if method == RANDOM:
            versus, ratio = "", ""
        else:
            higher = sum(r["score"] > b["score"] + 1e-9 for r, b in zip(results, base))
            lower = sum(r["score"] < b["score"] - 1e-9 for r, b in zip(results, base))
            versus = f"{higher} / {len(results) - higher - lower} / {lower}"
            ratios = [r["seconds"] / b["seconds"] for r, b in zip(results, base)]
            ratio = f"{statistics.mean(ratios):.2f}"
        lines.append(
            f"| {job.name} | {method} | {statistics.mean(scores):.4f} ± {sem(scores):.4f} | "
            f"{versus} | {statistics.mean(r['work'] for r in results):.0f} | "
            f"{statistics.mean(r['seconds'] for r in results):.2f} | {ratio} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", nargs="+", default=["diabetes", "digits-mlp"],
                        choices=["diabetes", "digits-mlp"])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="one seed, small budgets")
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    jobs: list[Job] = []
    if "diabetes" in args.jobs:
        jobs += linear_jobs(6 if args.quick else 20)
    if "digits-mlp" in args.jobs:
        jobs.append(mlp_job(4 if args.quick else 16, 3 if args.quick else args.epochs))
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(
        f"tunelab {tunelab.__version__}, scikit-learn {sklearn.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; seeds {seeds}\n"
    )
    print("| job | method | evaluation score | TuneSearchCV higher / equal / lower | work "
          "| time (s) | time ratio |")
    print("|---|---|---|---|---|---|---|")
    for job in jobs:
        X, y = job.data()
        methods = [RANDOM, *job.tunelab_options]
        runs: dict[str, list[dict[str, Any]]] = {method: [] for method in methods}
        for seed in seeds:
            for method in methods:
                runs[method].append(run(job, method, seed, X, y))
        print("\n".join(table(job, runs)), flush=True)


if __name__ == "__main__":
    main()
