"""How the Pareto front of a multi-objective study grew: its hypervolume after each trial."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError
from tunelab.samplers._pareto import hypervolume
from tunelab.study import Study
from tunelab.trial import TrialState
from tunelab.viz._common import no_completed_trials
from tunelab.viz._plotly import go

FIGURE = "plot_hypervolume_history"


def plot_hypervolume_history(study: Study, reference_point: Sequence[float]) -> go.Figure:
    """The hypervolume of the feasible COMPLETE trials so far, at each trial number.

    The hypervolume is the measure of the region that the trials dominate and that dominates
    ``reference_point``, one value per objective, in each objective's own direction (worse
    than every trial that should count: above them for a minimized objective, below for a
    maximized one). It only grows; a flat stretch is trials that did not move the front.
    """
    signs = _signs(study)
    reference = _checked_reference(reference_point, len(signs))
    trials = [
        t for t in study.get_trials(states=(TrialState.COMPLETE,)) if is_feasible(t)
    ]
    if not trials:
        raise no_completed_trials(study, FIGURE)
    front = np.empty((0, len(signs)))
    numbers, volumes = [], []
    volume = 0.0
    for trial in trials:
        point = signs * np.asarray(trial.values, dtype=float)
        if not np.any(np.all(front <= point, axis=1)):  # a dominated trial changes nothing
            front = np.vstack([front[~np.all(point <= front, axis=1)], point])
            volume = hypervolume(front, signs * reference)
        numbers.append(trial.number)
        volumes.append(volume)
    figure = go.Figure(go.Scatter(x=numbers, y=volumes, mode="lines+markers"))
    figure.update_layout(
        title="Hypervolume history", xaxis_title="Trial", yaxis_title="Hypervolume"
    )
    return figure


def _signs(study: Study) -> np.ndarray:
    """+1 for each minimized objective, -1 for each maximized one."""
    if len(study.directions) < 2:
        raise ConfigError(
            f"{FIGURE}: study {study.study_name!r} has one objective, and a hypervolume "
            "measures a front of several; plot it with plot_optimization_history instead.",
            field="study",
        )
    return np.array([-1.0 if d == "maximize" else 1.0 for d in study.directions])


def _checked_reference(reference_point: Sequence[float], n_objectives: int) -> np.ndarray:
    values = list(reference_point)
    if len(values) != n_objectives or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        for v in values
    ):
        raise ConfigError(
            f"{FIGURE}: reference_point={values!r} must give one finite number per objective "
            f"({n_objectives}), each worse than the trials that should count.",
            field="reference_point",
        )
    return np.asarray(values, dtype=float)
