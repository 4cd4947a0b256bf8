"""The figures of :mod:`tunelab.visualization` on matplotlib Axes, under the names of
``optuna.visualization.matplotlib``.

Each function takes the same arguments as its plotly namesake, builds that figure and draws
it again with matplotlib (:mod:`tunelab.viz.matplotlib_axes`), so both show the same trials.
It returns the Axes, or an array of Axes for a figure with several panels (a slice over
several parameters, a contour or rank matrix). Needs matplotlib (the ``matplotlib`` extra)
and plotly.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

__all__ = [
    "is_available",
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


def is_available() -> bool:
    """Whether matplotlib and plotly, which every figure here needs, are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("matplotlib", "plotly"))


def _drawn_with_matplotlib(name: str) -> Callable[..., Any]:
    def plot(*args: Any, **kwargs: Any) -> Any:
        # Imported first, so that a missing matplotlib is said before any work is done.
        draw_figure = importlib.import_module("tunelab.viz.matplotlib_axes").draw_figure
        figure = getattr(importlib.import_module("tunelab.visualization"), name)(*args, **kwargs)
        return draw_figure(figure)

    plot.__name__ = plot.__qualname__ = name
    plot.__doc__ = f"tunelab.visualization.{name} on matplotlib Axes; the same arguments."
    return plot


plot_contour = _drawn_with_matplotlib("plot_contour")
plot_edf = _drawn_with_matplotlib("plot_edf")
plot_hypervolume_history = _drawn_with_matplotlib("plot_hypervolume_history")
plot_intermediate_values = _drawn_with_matplotlib("plot_intermediate_values")
plot_optimization_history = _drawn_with_matplotlib("plot_optimization_history")
plot_parallel_coordinate = _drawn_with_matplotlib("plot_parallel_coordinate")
plot_param_importances = _drawn_with_matplotlib("plot_param_importances")
plot_pareto_front = _drawn_with_matplotlib("plot_pareto_front")
plot_rank = _drawn_with_matplotlib("plot_rank")
plot_slice = _drawn_with_matplotlib("plot_slice")
plot_timeline = _drawn_with_matplotlib("plot_timeline")
