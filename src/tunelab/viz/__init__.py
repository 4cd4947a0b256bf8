"""Plotly figures over a study (names follow ``optuna.visualization``), over the training
telemetry of one trial, and over its model: the attributions of its inputs
(:mod:`.attributions`) and its mistakes (:mod:`.mistakes`).

Every study figure leaves out the trials it cannot use (running, failed, pruned without a
value) and raises :class:`NothingToPlotError` when none is left, saying what is missing and how
to get it. Everything here needs the ``plots`` extra (plotly), and nothing needs torch.
"""

from __future__ import annotations

from tunelab.exceptions import NothingToPlotError
from tunelab.viz.attributions import plot_attribution_maps, plot_feature_attributions
from tunelab.viz.contour import plot_contour
from tunelab.viz.curves import plot_intermediate_values
from tunelab.viz.history import plot_edf, plot_optimization_history
from tunelab.viz.hypervolume import plot_hypervolume_history
from tunelab.viz.mistakes import plot_confident_mistakes, plot_confusion_matrix
from tunelab.viz.params import plot_parallel_coordinate, plot_param_importances, plot_slice
from tunelab.viz.pareto import plot_pareto_front
from tunelab.viz.rank import plot_rank
from tunelab.viz.timeline import plot_timeline
from tunelab.viz.training import (
    plot_activations,
    plot_distributions,
    plot_gradient_norms,
    plot_training_curves,
)

__all__ = [
    "NothingToPlotError",
    "plot_activations",
    "plot_attribution_maps",
    "plot_confident_mistakes",
    "plot_confusion_matrix",
    "plot_contour",
    "plot_distributions",
    "plot_edf",
    "plot_feature_attributions",
    "plot_gradient_norms",
    "plot_hypervolume_history",
    "plot_intermediate_values",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_pareto_front",
    "plot_rank",
    "plot_slice",
    "plot_timeline",
    "plot_training_curves",
]
