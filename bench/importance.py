"""Time of fANOVA importance (``tunelab.analysis.importance.fanova_importances``) by study size.

Each study is seeded random search over ``d`` float parameters on [0, 1] where the first carries
almost all the variance (10 x0^2 + 0.1 x1, the rest irrelevant), as in the importance tests.
Reported: the median wall time of ``fanova_importances(study)`` (64 trees, the default) over
``--repeat`` calls, after one call that imports scikit-learn and warms its caches, and the share
it gives x0 (near 1 when the ranking is right). The report and ``plot_param_importances``
call it once per objective, so this is the wait a user sees there.

Usage: ``python bench/importance.py [--trials 100 300 1000] [--params 10 30] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sklearn

import tunelab
from report import environment, markdown_table  # bench/report.py, beside this file
from tunelab.analysis.importance import fanova_importances


def objective_with(n_params: int):
    def objective(trial: tunelab.Trial) -> float:
        values = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(n_params)]
        return 10 * values[0] ** 2 + 0.1 * values[1]

    return objective


def timed(study: tunelab.Study, repeat: int) -> tuple[float, float]:
    """Median seconds of one fANOVA run over ``repeat`` runs, and the share it gives x0."""
    fanova_importances(study)
    seconds, importances = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        importances = fanova_importances(study)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), importances["x0"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--params", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for key, value in environment(sklearn=sklearn.__version__).items():
        print(f"- {key}: {value}")
    rows = []
    for n_params in args.params:
        for n_trials in args.trials:
            study = tunelab.create_study(sampler="random", seed=args.seed)
            study.optimize(objective_with(n_params), n_trials=n_trials)
            seconds, share = timed(study, args.repeat)
            rows.append([str(n_trials), str(n_params), f"{seconds:.3f}", f"{share:.3f}"])
    print()
    print(markdown_table(["trials", "parameters", "median s", "x0's share"], rows))


if __name__ == "__main__":
    main()
