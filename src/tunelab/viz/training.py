"""Figures of one trial's training, from the telemetry that tunelab.torch's trainer stores with
the trial each epoch: learning curves, gradient norms per layer, activation statistics per
layer. Reading that telemetry needs no torch (:mod:`tunelab.telemetry`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.telemetry import (
    DISTRIBUTION_KINDS,
    HOW_TO_RECORD,
    QUANTILE_LEVELS,
    EpochTelemetry,
    read_telemetry,
)
from tunelab.trial import TrialRecord
from tunelab.viz._common import log_ticks, nothing_to_plot
from tunelab.viz._plotly import go, make_subplots, qualitative

SPLITS = {
    "train": ("Training", qualitative.Plotly[0]),
    "val": ("Validation", qualitative.Plotly[1]),
}
LR_COLOR = qualitative.Plotly[2]


def plot_training_curves(record: TrialRecord, metric_name: str = "metric") -> go.Figure:
    """Training and validation loss, then metric, then the learning rate, per epoch, in three
    panels over a shared epoch axis. ``metric_name`` labels the metric panel (the telemetry
    does not name the metric: the recipe's ``metric`` does)."""
    history = _telemetry(record, "plot_training_curves")
    epochs = [epoch.epoch for epoch in history]
    figure = make_subplots(
        rows=3, cols=1, shared_xaxes=True, subplot_titles=("Loss", metric_name, "Learning rate")
    )
    for row, quantity in ((1, "loss"), (2, "metric")):
        for split, (label, color) in SPLITS.items():
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[getattr(epoch, f"{split}_{quantity}") for epoch in history],
                    mode="lines+markers",
                    name=label,
                    legendgroup=split,
                    showlegend=row == 1,
                    line_color=color,
                ),
                row=row,
                col=1,
            )
    rates = [epoch.lr for epoch in history]
    learning_rate = go.Scatter(
        x=epochs, y=rates, mode="lines+markers", name="Learning rate", line_color=LR_COLOR
    )
    figure.add_trace(learning_rate, row=3, col=1)
    if all(rate > 0 for rate in rates):  # a schedule that decays to zero has no log axis
        figure.update_yaxes(type="log", row=3, col=1)
    figure.update_xaxes(title_text="Epoch", row=3, col=1)
    figure.update_layout(title=f"Training of trial {record.number}")
    return figure


def plot_gradient_norms(record: TrialRecord) -> go.Figure:
    """A heat map of the gradient norm of each layer (rows, the input layer on top) at each
    epoch (columns), on a log colour scale: norms span orders of magnitude, and vanishing or
    exploding gradients show as the ends of it. A zero norm (a frozen layer) stays blank."""
    figure_name = "plot_gradient_norms"
    history = _telemetry(record, figure_name)
    epochs, norms = _per_layer(history, "grad_norm", record, figure_name)
    # Plotly's colour scales are linear, so the heat map holds log10 of the norms.
    logs = [[_log10(norm) for norm in per_epoch] for per_epoch in norms.values()]
    finite = [value for row in logs for value in row if value is not None]
    tickvals, ticktext = log_ticks(min(finite), max(finite)) if finite else ([], [])
    heatmap = go.Heatmap(
        x=epochs,
        y=list(norms),
        z=logs,
        customdata=list(norms.values()),
        colorscale="Viridis",
        colorbar={"title": {"text": "Gradient norm"}, "tickvals": tickvals, "ticktext": ticktext},
        hovertemplate="layer %{y}<br>epoch %{x}<br>norm %{customdata:.3g}<extra></extra>",
        hoverongaps=False,
    )
    figure = go.Figure(heatmap)
    figure.update_yaxes(title_text="Layer", autorange="reversed")
    figure.update_layout(title=f"Gradient norms of trial {record.number}", xaxis_title="Epoch")
    return figure


def _log10(norm: float | None) -> float | None:
    return math.log10(norm) if norm is not None and norm > 0 else None


def plot_activations(record: TrialRecord) -> go.Figure:
    """Per activation layer over the epochs: the mean of its outputs with their standard
    deviation as error bars (top), and the fraction of dead units, whose output never
    changes (bottom). A colour per layer, the same in both panels."""
    figure_name = "plot_activations"
    history = _telemetry(record, figure_name)
    epochs, stats = _per_layer(history, "activations", record, figure_name)
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, subplot_titles=("Mean ± std", "Dead units (fraction)")
    )
    for index, (layer, per_epoch) in enumerate(stats.items()):
        common = {"x": epochs, "mode": "lines+markers", "name": layer, "legendgroup": layer}
        common["line_color"] = qualitative.Plotly[index % len(qualitative.Plotly)]
        mean = go.Scatter(
            y=_field(per_epoch, "mean"),
            error_y={"type": "data", "array": _field(per_epoch, "std")},
            **common,
        )
        figure.add_trace(mean, row=1, col=1)
        dead = go.Scatter(y=_field(per_epoch, "dead"), showlegend=False, **common)
        figure.add_trace(dead, row=2, col=1)
    figure.update_yaxes(range=[-0.02, 1.02], row=2, col=1)
    figure.update_xaxes(title_text="Epoch", row=2, col=1)
    figure.update_layout(title=f"Activations of trial {record.number}")
    return figure


def plot_distributions(record: TrialRecord, kind: str = "gradients") -> go.Figure:
    """How the values of each layer's ``kind`` ("weights", "gradients" or "activations")
    were spread at each epoch: bands between quantiles (the outer band from the smallest to
    the largest value, then 1-99%, 5-95% and 25-75%) around the median, a panel per layer,
    as TensorBoard's distributions view draws them. Gradients that vanish shrink towards
    zero layer by layer; gradients that explode widen epoch over epoch; saturated sigmoid or
    tanh activations pile against their bounds."""
    figure_name = "plot_distributions"
    if kind not in DISTRIBUTION_KINDS:
        raise ConfigError(
            f"plot_distributions: kind must be one of {', '.join(DISTRIBUTION_KINDS)}, not "
            f"{kind!r}.",
            field="kind",
        )
    epochs = [e for e in _telemetry(record, figure_name) if e.distributions.get(kind)]
    layers = list(dict.fromkeys(layer for e in epochs for layer in e.distributions[kind]))
    if not layers:
        raise nothing_to_plot(
            figure_name,
            f"trial {record.number}'s telemetry has no {kind} distributions",
            "they are recorded by tunelab.torch's trainer and by tunelab.torch.watch with "
            "telemetry on (fused populations record none)",
        )
    figure = make_subplots(
        rows=len(layers), cols=1, shared_xaxes=True, subplot_titles=layers,
        vertical_spacing=min(0.08, 0.3 / len(layers)),
    )
    for row, layer in enumerate(layers, start=1):
        kept = [e for e in epochs if layer in e.distributions[kind]]
        x = [e.epoch for e in kept]
        quantiles = [e.distributions[kind][layer] for e in kept]
        for band, opacity in zip(_BANDS, (0.15, 0.25, 0.35, 0.5)):
            low, high = ([q[i] for q in quantiles] for i in band)
            color = f"rgba(31, 119, 180, {opacity})"
            common = {"x": x, "mode": "lines", "line_width": 0, "showlegend": False,
                      "hoverinfo": "skip"}
            figure.add_trace(go.Scatter(y=low, **common), row=row, col=1)
            figure.add_trace(go.Scatter(y=high, fill="tonexty", fillcolor=color, **common),
                             row=row, col=1)
        median = go.Scatter(
            x=x, y=[q[_MEDIAN] for q in quantiles], mode="lines+markers", name=layer,
            line_color=qualitative.Plotly[0], showlegend=False,
            hovertemplate=f"{layer}<br>epoch %{{x}}<br>median %{{y:.3g}}<extra></extra>",
        )
        figure.add_trace(median, row=row, col=1)
    figure.update_xaxes(title_text="Epoch", row=len(layers), col=1)
    figure.update_layout(
        title=f"Distribution of the {kind} of trial {record.number}",
        height=max(320, 130 * len(layers)),
    )
    return figure


# Index pairs into QUANTILE_LEVELS, widest band first, and the median's index.
_BANDS = ((0, 8), (1, 7), (2, 6), (3, 5))
_MEDIAN = 4
assert QUANTILE_LEVELS[_MEDIAN] == 0.5 and len(QUANTILE_LEVELS) == 9


def _field(stats: Sequence[Any], name: str) -> list[float | None]:
    return [None if each is None else getattr(each, name) for each in stats]


def _telemetry(record: TrialRecord, figure: str) -> list[EpochTelemetry]:
    history = read_telemetry(record)
    if not history:
        raise nothing_to_plot(
            figure,
            f"trial {record.number} has no training telemetry",
            HOW_TO_RECORD,
        )
    return history


def _per_layer(
    history: Sequence[EpochTelemetry], field: str, record: TrialRecord, figure: str
) -> tuple[list[int], dict[str, list[Any]]]:
    """The epochs, and each layer's entry of telemetry ``field`` per epoch, layers in the
    model's order; None where an epoch did not record the layer."""
    layers = dict.fromkeys(layer for epoch in history for layer in getattr(epoch, field))
    if not layers:
        raise nothing_to_plot(
            figure,
            f"trial {record.number}'s telemetry has no per-layer {field}",
            "the trainer records gradient norms for layers with trainable parameters and "
            "activations for activation, Linear or Conv modules; train a model that has them",
        )
    per_layer = {layer: [getattr(epoch, field).get(layer) for epoch in history] for layer in layers}
    return [epoch.epoch for epoch in history], per_layer
