"""The report's figures and hyperparameter importance.

Every figure of :mod:`tunelab.viz` that applies to the study is drawn; one that has nothing to
draw (:class:`~tunelab.viz.NothingToPlotError`) is replaced by a note with the figure's own
message, which says what is missing and how to get it. Figures that plot one objective are
drawn once per objective of a multi-objective study. The contour and slice plots show the
parameters that fANOVA rates most important, since a matrix of every pair of a dozen
parameters is unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunelab.analysis.importance import fanova_importances
from tunelab.exceptions import TunelabError
from tunelab.quantities import labelled
from tunelab.report.html import Column, Markup, Section, figure, join, note, table, tag
from tunelab.study import Study
from tunelab.telemetry import HOW_TO_RECORD, has_telemetry, read_telemetry
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz import (
    NothingToPlotError,
    plot_activations,
    plot_contour,
    plot_distributions,
    plot_edf,
    plot_gradient_norms,
    plot_intermediate_values,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_pareto_front,
    plot_slice,
    plot_timeline,
    plot_training_curves,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

FIGURES_ID = "figures"
IMPORTANCE_ID = "importance"
CONTOUR_PARAMS = 3  # a 3x3 matrix of pairs still reads at a page's width
SLICE_PARAMS = 8  # panels of a slice plot share one row
# fanova_importances works from two trials, but says itself that a few dozen are needed for
# shares to be reliable; below this the report says the shares are rough.
RELIABLE_IMPORTANCE_TRIALS = 20
PLOTTABLE_PARETO_OBJECTIVES = 3
TRAINING_CURVES_HEIGHT_PX = 720
ACTIVATIONS_HEIGHT_PX = 600
CONTOUR_CELL_PX = 260

Importances = Mapping[str, dict[str, float] | TunelabError]
"""Per objective name: each parameter's share of the variance, or why it was not computed."""


# A curve is a trace of its own: a browser draws a few hundred in time, not ten thousand.
MAX_CURVES = 300
MAX_TIMELINE_TRIALS = 1000


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: its element id, heading, caption, and the call that draws it."""

    id: str
    title: str
    caption: str
    draw: Callable[[], go.Figure]


def compute_importances(study: Study) -> Importances:
    """fANOVA importances of each objective (see :mod:`tunelab.analysis.importance`)."""
    result: dict[str, dict[str, float] | TunelabError] = {}
    for name in study.objective_names:
        try:
            result[name] = fanova_importances(study, target=name)
        except TunelabError as error:  # too few trials, constant values, a missing extra
            result[name] = error
    return result


# --- figures ------------------------------------------------------------------------------------


def figures_section(
    study: Study, importances: Importances, ranked: Sequence[TrialRecord]
) -> Section:
    """The study's figures, then the training figures of its best trial (``ranked[0]``)."""
    study_figures = join(_render(spec) for spec in study_figure_specs(study, importances))
    parts = [tag("h3", "The search"), study_figures, *_best_trial_training(study, ranked)]
    return Section(FIGURES_ID, "Figures", join(parts))


def _render(spec: FigureSpec) -> Markup:
    try:
        drawn = spec.draw()
    except NothingToPlotError as error:
        return note(f"{spec.title}: not drawn. {error}")
    return figure(drawn, spec.id, f"{spec.title}: {spec.caption}")


@dataclass(frozen=True)
class Objective:
    """One objective as its figures need it: the ``target`` the figure functions take, the
    id suffix and title words that tell the objectives of a study apart, and the parameters,
    most important first."""

    target: int | None
    suffix: str
    of: str
    ranked: tuple[str, ...]


def study_figure_specs(study: Study, importances: Importances) -> list[FigureSpec]:
    """Every study figure that applies: the Pareto front of several objectives, the figures of
    each objective, then those of the whole study."""
    multi = len(study.directions) > 1
    specs = [_pareto_spec(study)] if multi else []  # what a multi-objective study is for
    for index, name in enumerate(study.objective_names):
        objective = Objective(
            target=index if multi else None,
            suffix=f"-{_slug(name)}" if multi else "",
            of=f" of {labelled(name)}" if multi else "",
            ranked=tuple(_params_by_importance(study, importances.get(name))),
        )
        specs += _objective_specs(study, objective)
    specs.append(FigureSpec(
        "figure-intermediate-values", "Intermediate values",
        "what each trial reported step by step; pruned trials are dotted and end in a cross.",
        lambda: plot_intermediate_values(study, max_trials=MAX_CURVES),
    ))
    specs.append(FigureSpec(
        "figure-timeline", "Timeline",
        f"when each trial ran (the latest {MAX_TIMELINE_TRIALS:,} at most), on which worker, "
        "coloured by how it ended.",
        lambda: plot_timeline(study, n_recent_trials=MAX_TIMELINE_TRIALS),
    ))
    return specs


def _objective_specs(study: Study, objective: Objective) -> list[FigureSpec]:
    target, suffix, of = objective.target, objective.suffix, objective.of
    specs = [
        FigureSpec(
            f"figure-optimization-history{suffix}", f"Optimization history{of}",
            "each completed trial's value and the best value so far.",
            lambda: plot_optimization_history(study, target=target),
        ),
        FigureSpec(
            f"figure-edf{suffix}", f"Empirical distribution{of}",
            "the fraction of completed trials that reached at most each value.",
            lambda: plot_edf(study, target=target),
        ),
    ]
    if objective.ranked:  # the figures over parameters need some (an objective may suggest none)
        specs += [_slice_spec(study, objective), _parallel_coordinate_spec(study, objective)]
    if len(objective.ranked) >= 2:
        specs.append(_contour_spec(study, objective))
    return specs


def _slice_spec(study: Study, objective: Objective) -> FigureSpec:
    params = list(objective.ranked[:SLICE_PARAMS])
    return FigureSpec(
        f"figure-slice{objective.suffix}", f"Slice plot{objective.of}",
        f"the value against each parameter ({_which(objective.ranked, SLICE_PARAMS)}, most "
        "important first); later trials are darker.",
        lambda: plot_slice(study, params=params, target=objective.target),
    )


def _parallel_coordinate_spec(study: Study, objective: Objective) -> FigureSpec:
    # A line needs a value on every axis: a conditional parameter on an axis would drop the
    # trials that did not set it, so only the parameters every completed trial set get one.
    completed = study.get_trials((TrialState.COMPLETE,))
    always_set = [name for name in objective.ranked if all(name in r.params for r in completed)]
    left_out = len(objective.ranked) - len(always_set)
    caption = "one line per completed trial through its value and parameters"
    if left_out and always_set:
        caption += (
            f" ({left_out} conditional parameter(s) left out, so that every trial has a line)"
        )
    return FigureSpec(
        f"figure-parallel-coordinate{objective.suffix}", f"Parallel coordinates{objective.of}",
        caption + ".",
        lambda: plot_parallel_coordinate(study, params=always_set or None, target=objective.target),
    )


def _contour_spec(study: Study, objective: Objective) -> FigureSpec:
    params = list(objective.ranked[:CONTOUR_PARAMS])

    def draw() -> go.Figure:
        drawn = plot_contour(study, params=params, target=objective.target)
        if len(params) > 2:  # a matrix: give each cell room
            drawn.update_layout(height=CONTOUR_CELL_PX * len(params))
        return drawn

    return FigureSpec(
        f"figure-contour{objective.suffix}", f"Contour plot{objective.of}",
        f"the value over pairs of parameters ({_which(objective.ranked, CONTOUR_PARAMS)}), "
        "interpolated between the trials (black dots).",
        draw,
    )


def _pareto_spec(study: Study) -> FigureSpec:
    n_objectives = len(study.directions)
    axes = list(range(min(n_objectives, PLOTTABLE_PARETO_OBJECTIVES)))
    shown = ", ".join(labelled(study.objective_names[i]) for i in axes)
    return FigureSpec(
        "figure-pareto-front", "Pareto front",
        f"the completed trials over {shown}; the front (trials no other beats on every "
        "objective) in red.",
        lambda: plot_pareto_front(study, axis_order=axes),
    )


def _params_by_importance(
    study: Study, importances: dict[str, float] | TunelabError | None
) -> list[str]:
    """The completed trials' parameters, most important first where importances are known,
    else in the order the trials first set them."""
    completed = study.get_trials((TrialState.COMPLETE,))
    seen = list(dict.fromkeys(name for record in completed for name in record.params))
    if not isinstance(importances, dict):
        return seen
    return sorted(seen, key=lambda name: -importances.get(name, 0.0))


def _which(names: Sequence[str], limit: int) -> str:
    if len(names) > limit:
        return f"the {limit} most important of {len(names)}"
    return "all of them"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "objective"


# --- the best trial's training ----------------------------------------------------------------


def _best_trial_training(study: Study, best: Sequence[TrialRecord]) -> list[Markup]:
    if not best:
        return []
    record = best[0]
    heading = tag("h3", f"Training of the best trial ({record.number})")
    if not has_telemetry(record):
        return [heading, note(
            f"Trial {record.number} has no training telemetry, so its learning curves, gradient "
            f"norms and activations cannot be drawn. To record them, {HOW_TO_RECORD}."
        )]
    metric = metric_label(study)
    specs = [
        FigureSpec(
            "figure-training-curves", "Training curves",
            "training and validation loss and metric, and the learning rate, per epoch.",
            lambda: plot_training_curves(record, metric).update_layout(
                height=TRAINING_CURVES_HEIGHT_PX),
        ),
        FigureSpec(
            "figure-gradient-norms", "Gradient norms",
            "each layer's gradient norm per epoch, on a log colour scale.",
            lambda: plot_gradient_norms(record),
        ),
        FigureSpec(
            "figure-activations", "Activations",
            "each activation layer's output mean and spread, and its fraction of dead units.",
            lambda: plot_activations(record).update_layout(height=ACTIVATIONS_HEIGHT_PX),
        ),
    ]
    specs += [_distribution_spec(record, kind) for kind in _recorded_distributions(record)]
    return [heading, *(_render(spec) for spec in specs)]


DISTRIBUTION_CAPTIONS = {
    "gradients": "the spread of each layer's gradient values per epoch (quantile bands "
    "around the median): bands that shrink layer by layer are vanishing gradients, bands "
    "that widen epoch over epoch exploding ones.",
    "activations": "the spread of each activation layer's outputs per epoch: outputs piled "
    "against a sigmoid's or tanh's bounds are saturated units.",
    "weights": "the spread of each layer's weights per epoch.",
}


def _recorded_distributions(record: TrialRecord) -> list[str]:
    """The kinds of distributions the trial's telemetry holds, in the report's order
    (telemetry recorded without them, or by a fused population, has none)."""
    held = {kind for epoch in read_telemetry(record) for kind in epoch.distributions}
    return [kind for kind in DISTRIBUTION_CAPTIONS if kind in held]


def _distribution_spec(record: TrialRecord, kind: str) -> FigureSpec:
    return FigureSpec(
        f"figure-{kind}-distributions", f"Distribution of the {kind}", DISTRIBUTION_CAPTIONS[kind],
        lambda: plot_distributions(record, kind),
    )


def metric_label(study: Study) -> str:
    """The metric a task reports (its studies name it ``val_<metric>``, beside any costs)."""
    names = [name for name in study.metric_names or () if name.startswith("val_")]
    if len(names) == 1:
        return names[0].removeprefix("val_")
    return "metric"


# --- importance -------------------------------------------------------------------------------


def importance_section(study: Study, importances: Importances) -> Section:
    """Each parameter's share of the variance of each objective (fANOVA), as bars and numbers."""
    completed = len(study.get_trials((TrialState.COMPLETE,)))
    parts: list[Markup] = [note(
        "fANOVA on a random forest fitted to the completed trials: each parameter's share of "
        "the variance of the objective that it explains alone (Hutter et al., ICML 2014)."
    )]
    if 0 < completed < RELIABLE_IMPORTANCE_TRIALS:
        parts.append(note(
            f"With {completed} completed trials these shares are rough; fANOVA needs a few "
            "dozen trials to rate parameters reliably."
        ))
    multi = len(study.directions) > 1
    for name, shares in importances.items():
        if multi:
            parts.append(tag("h3", name))
        parts.append(_importance_of(study, name, shares, multi))
    return Section(IMPORTANCE_ID, "Hyperparameter importance", join(parts))


def _importance_of(
    study: Study, name: str, shares: dict[str, float] | TunelabError, multi: bool
) -> Markup:
    if isinstance(shares, TunelabError):
        return note(f"Importance of {name}: not computed. {shares}")
    suffix = f"-{_slug(name)}" if multi else ""
    drawn = plot_param_importances(study, shares)
    rows = [(param, f"{share:.1%}") for param, share in shares.items()]
    return join([
        figure(drawn, f"figure-importance{suffix}",
               f"Importance for {name}: the most important parameter on top."),
        table([Column("parameter"), Column("share", numeric=True)], rows),
    ])
