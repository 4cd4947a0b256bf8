"""TuneSearchCV beside GridSearchCV: regularized linear models on scikit-learn's diabetes data.

For Ridge and Lasso (``alpha``) and ElasticNet (``alpha`` and ``l1_ratio``), GridSearchCV tries
every point of a grid with 5-fold cross-validation; TuneSearchCV gets as many candidates as the
grid has points, chooses each one from the results so far, and stops a candidate between folds
when it is behind (the median pruner), so it fits at most as many models. Both print the best
parameters, the mean R² over the 5 folds, the number of fits and the time. Run it with::

    python examples/sklearn_diabetes.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.model_selection import GridSearchCV

from tunelab.distributions import FloatDistribution
from tunelab.sklearn import TuneSearchCV

FOLDS = 5
ALPHA = FloatDistribution(1e-4, 1e2, log=True)
JOBS = {
    "Ridge": (Ridge(), {"alpha": ALPHA}, {"alpha": np.geomspace(1e-4, 1e2, 20)}),
    "Lasso": (Lasso(max_iter=5000), {"alpha": ALPHA}, {"alpha": np.geomspace(1e-4, 1e2, 20)}),
    "ElasticNet": (
        ElasticNet(max_iter=5000),
        {"alpha": ALPHA, "l1_ratio": FloatDistribution(0.05, 1.0)},
        {"alpha": np.geomspace(1e-4, 1e2, 8), "l1_ratio": [0.1, 0.5, 0.9, 1.0]},
    ),
}


def fits(results: dict) -> int:
    """How many models a search fit: one per fold score it has."""
    splits = [key for key in results if key.startswith("split") and key.endswith("_test_score")]
    return int(sum(np.isfinite(results[key]).sum() for key in splits))


def show(model: str, method: str, search, seconds: float) -> None:
    params = ", ".join(f"{name}={value:.3g}" for name, value in search.best_params_.items())
    print(
        f"{model:<11} {method:<13} {search.best_score_:>7.4f} {fits(search.cv_results_):>5} "
        f"{seconds:>6.2f}s  {params}"
    )


def main() -> None:
    X, y = load_diabetes(return_X_y=True)
    print(f"{'model':<11} {'search':<13} {'mean R²':>7} {'fits':>5} {'time':>7}  best parameters")
    for model, (estimator, distributions, grid) in JOBS.items():
        candidates = int(np.prod([len(values) for values in grid.values()]))
        searches = {
            "GridSearchCV": GridSearchCV(estimator, grid, cv=FOLDS),
            "TuneSearchCV": TuneSearchCV(
                estimator, distributions, n_trials=candidates, cv=FOLDS, random_state=0
            ),
        }
        for method, search in searches.items():
            start = time.perf_counter()
            search.fit(X, y)
            show(model, method, search, time.perf_counter() - start)


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    main()
