"""tunelab's study figures under the names and arguments of ``optuna.visualization``.

Each ``plot_*`` returns a plotly figure, drawn by :mod:`tunelab.viz`; :mod:`.matplotlib` has
the same names drawing on matplotlib Axes. Importing this package needs no plotting library:
a figure needs plotly (the ``plots`` extra), and :func:`is_available` says whether it is
installed, as Optuna's does.

Two arguments read more widely than Optuna's: ``target`` may also name an objective (its
index or metric name), and without ``target_name`` an axis is labelled with the objective's
metric name where the study has one. A multi-objective study needs a ``target``, except in
:func:`plot_param_importances` (a bar per objective) and :func:`plot_pareto_front`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from tunelab.visualization import matplotlib

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from tunelab.analysis.importance import ImportanceEvaluator
    from tunelab.study import Study
    from tunelab.viz._common import TargetSpec

__all__ = [
    "is_available",
    "matplotlib",
    "plot_contour",
    "plot_edf",
    "plot_hypervolume_history",
    "plot_intermediate_values",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_pareto_front",
    "plot_rank",
    "plot_slice",
    "plot_timeline",
]

# tunelab.viz's own functions take Optuna's arguments in Optuna's order.
_SAME_IN_VIZ = frozenset(__all__) - {"is_available", "matplotlib", "plot_param_importances"}


def is_available() -> bool:
    """Whether plotly, which every figure here needs, is installed."""
    return importlib.util.find_spec("plotly") is not None


def plot_param_importances(
    study: Study,
    evaluator: ImportanceEvaluator | None = None,
    params: list[str] | None = None,
    *,
    target: TargetSpec = None,
    target_name: str | None = None,
) -> Figure:
    """:func:`tunelab.viz.plot_param_importances` with Optuna's order of arguments (tunelab's
    takes precomputed importances second)."""
    from tunelab.viz import plot_param_importances as plot

    return plot(study, evaluator=evaluator, params=params, target=target, target_name=target_name)


def __getattr__(name: str) -> Any:
    # Imported on first use, so that is_available() answers without plotly.
    if name in _SAME_IN_VIZ:
        return getattr(importlib.import_module("tunelab.viz"), name)
    raise AttributeError(f"module 'tunelab.visualization' has no attribute {name!r}")
