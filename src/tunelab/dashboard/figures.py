"""The dashboard's figures: :mod:`tunelab.viz`'s, as the report chooses them, in plotly's JSON.

Each figure is sent as ``{"id", "title", "caption", "figure"}``, or with a ``"note"`` in place
of the figure saying why it could not be drawn (the figure's own message). The page draws it
with ``Plotly.react``.

plotly renders a few HTML tags in any text it draws (titles, tick labels, hover labels, and
the data values a hover template shows), so every string of a figure is escaped here except
the bare formatting tags tunelab's figures use, which carry no attributes: a parameter named
``<img src=x onerror=...>`` reaches the page as text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from tunelab.exceptions import NothingToPlotError
from tunelab.report.figures import (
    ACTIVATIONS_HEIGHT_PX,
    DISTRIBUTION_CAPTIONS,
    TRAINING_CURVES_HEIGHT_PX,
    Importances,
    study_figure_specs,
)
from tunelab.study import Study
from tunelab.telemetry import HOW_TO_RECORD, has_telemetry, read_telemetry
from tunelab.trial import TrialRecord
from tunelab.viz import (
    plot_activations,
    plot_contour,
    plot_distributions,
    plot_gradient_norms,
    plot_param_importances,
    plot_slice,
    plot_training_curves,
)

FigureJson = dict[str, Any]
# The tags plotly draws as formatting, bare: anything with attributes (a link, a style) is text.
_FORMATTING_TAG = re.compile(r"(</?(?:b|i|em|sub|sup)>|<br\s*/?>)", re.IGNORECASE)


def safe_text(text: str) -> str:
    """``text`` with every HTML character escaped but bare formatting tags."""
    parts = _FORMATTING_TAG.split(text)
    return "".join(
        part if i % 2 else html.escape(part, quote=False) for i, part in enumerate(parts)
    )


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value


def figure_json(figure: Any) -> FigureJson:
    """A plotly figure as the JSON ``Plotly.react`` takes, its text escaped."""
    data = json.loads(figure.to_json())
    return {"data": _escaped(data.get("data", [])), "layout": _escaped(data.get("layout", {}))}


def drawn(id: str, title: str, caption: str, draw: Callable[[], Any]) -> dict[str, Any]:
    """A figure entry: drawn, or a note with the figure's reason for drawing nothing."""
    entry: dict[str, Any] = {"id": id, "title": title, "caption": caption}
    try:
        entry["figure"] = figure_json(draw())
    except NothingToPlotError as error:
        entry["note"] = str(error)
    return entry


def study_figures(study: Study, importances: Importances) -> list[dict[str, Any]]:
    """The report's study figures, then each objective's importances."""
    entries = [
        drawn(s.id, s.title, s.caption, s.draw) for s in study_figure_specs(study, importances)
    ]
    for name, shares in importances.items():
        title = f"Importance for {name}"
        if isinstance(shares, dict):
            entries.append(
                drawn(
                    f"figure-importance-{len(entries)}",
                    title,
                    "fANOVA: each parameter's share of the variance; the most important on top.",
                    partial(plot_param_importances, study, shares),
                )
            )
        else:
            entries.append(
                {
                    "id": f"figure-importance-{len(entries)}",
                    "title": title,
                    "caption": "",
                    "note": f"not computed: {shares}",
                }
            )
    return entries


def chosen_figure(
    study: Study, kind: str, params: Sequence[str], target: int | None
) -> dict[str, Any]:
    """The contour or slice plot over the parameters the user chose."""
    chosen = list(params) or None
    if kind == "contour":
        return drawn(
            "figure-contour-chosen",
            "Contour plot",
            "the value over pairs of the chosen parameters.",
            lambda: plot_contour(study, params=chosen, target=target),
        )
    return drawn(
        "figure-slice-chosen",
        "Slice plot",
        "the value against each chosen parameter.",
        lambda: plot_slice(study, params=chosen, target=target),
    )


def trial_figures(record: TrialRecord, metric: str) -> list[dict[str, Any]]:
    """The training figures of one trial from its telemetry; a note when it has none."""
    if not has_telemetry(record):
        return [
            {
                "id": "figure-training",
                "title": "Training",
                "caption": "",
                "note": (
                    f"Trial {record.number} has no training telemetry (yet), so its learning "
                    "curves, gradient norms and activations cannot be drawn. To record them, "
                    f"{HOW_TO_RECORD}."
                ),
            }
        ]
    entries = [
        drawn(
            "figure-training-curves",
            "Training curves",
            "training and validation loss and metric, and the learning rate, per epoch.",
            lambda: plot_training_curves(record, metric).update_layout(
                height=TRAINING_CURVES_HEIGHT_PX
            ),
        ),
        drawn(
            "figure-gradient-norms",
            "Gradient norms",
            "each layer's gradient norm per epoch, on a log colour scale.",
            lambda: plot_gradient_norms(record),
        ),
        drawn(
            "figure-activations",
            "Activations",
            "each activation layer's output mean and spread, and its fraction of dead units.",
            lambda: plot_activations(record).update_layout(height=ACTIVATIONS_HEIGHT_PX),
        ),
    ]
    held = {kind for epoch in read_telemetry(record) for kind in epoch.distributions}
    for kind, caption in DISTRIBUTION_CAPTIONS.items():
        if kind in held:
            entries.append(
                drawn(
                    f"figure-{kind}-distributions",
                    f"Distribution of the {kind}",
                    caption,
                    partial(plot_distributions, record, kind),
                )
            )
    return entries
