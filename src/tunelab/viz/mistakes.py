"""Figures of where a classifier goes wrong (:func:`tunelab.analysis.mistakes.mistakes`): its
confusion matrix, and the examples it got wrong with the most confidence."""

from __future__ import annotations

import math

import numpy as np

from tunelab.analysis.mistakes import Mistakes
from tunelab.viz._common import nothing_to_plot
from tunelab.viz._plotly import go, make_subplots

PICTURES_PER_ROW = 6
PICTURE_ROW_HEIGHT_PX = 170
INPUT_COLORSCALE = "Greys"


def plot_confusion_matrix(result: Mistakes) -> go.Figure:
    """Counts of each true class (rows) predicted as each class (columns), coloured by the
    share of the true class, so that a small class's errors show as plainly as a large one's;
    the diagonal holds the right answers."""
    names = [result.class_name(i) for i in range(len(result.confusion))]
    counts = result.confusion
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    heatmap = go.Heatmap(
        z=shares, x=names, y=names, customdata=counts, text=counts, texttemplate="%{text}",
        colorscale="Blues", zmin=0.0, zmax=1.0,
        colorbar={"title": {"text": "Share of<br>the class"}},
        hovertemplate="true %{y}, predicted %{x}<br>%{customdata} examples (%{z:.1%})"
        "<extra></extra>",
    )
    figure = go.Figure(heatmap)
    figure.update_xaxes(title_text="Predicted class", type="category")
    figure.update_yaxes(title_text="True class", type="category", autorange="reversed")
    split = "validation" if result.split == "val" else "test"
    figure.update_layout(
        title=f"Confusion matrix of trial {result.trial} on the {split} part "
        f"(accuracy {result.accuracy:.3f})",
    )
    return figure


def plot_confident_mistakes(result: Mistakes) -> go.Figure:
    """The wrongly predicted examples, most confident first: pictures in a grid, each titled
    with its true class, the class predicted and the probability given to it; for feature
    vectors, a table of the same with the example's row."""
    if not result.mistakes:
        raise nothing_to_plot(
            "plot_confident_mistakes",
            f"trial {result.trial} got every example of the {result.split} part right",
            "there is nothing to look at; a harder validation part would show more",
        )
    if result.inputs.ndim == 4:  # (N, C, H, W) pictures
        return _pictures(result)
    return _table(result)


def _caption(result: Mistakes, index: int) -> str:
    mistake = result.mistakes[index]
    return (
        f"{result.class_name(mistake.label)} → {result.class_name(mistake.predicted)} "
        f"({mistake.confidence:.0%})"
    )


def _pictures(result: Mistakes) -> go.Figure:
    count = len(result.mistakes)
    columns = min(PICTURES_PER_ROW, count)
    rows = math.ceil(count / columns)
    figure = make_subplots(
        rows=rows, cols=columns, subplot_titles=[_caption(result, i) for i in range(count)],
        horizontal_spacing=0.02, vertical_spacing=0.08,
    )
    for index, picture in enumerate(result.inputs):
        figure.add_trace(
            go.Heatmap(z=picture.mean(axis=0), colorscale=INPUT_COLORSCALE, reversescale=True,
                       showscale=False, hovertemplate="value %{z:.3g}<extra></extra>"),
            row=index // columns + 1, col=index % columns + 1,
        )
    figure.update_xaxes(showticklabels=False, constrain="domain")
    figure.update_yaxes(showticklabels=False, autorange="reversed", constrain="domain")
    for index in range(1, rows * columns + 1):  # square pixels
        suffix = "" if index == 1 else str(index)
        figure.update_layout({f"yaxis{suffix}": {"scaleanchor": f"x{suffix}"}})
    figure.update_layout(
        title=f"The most confident mistakes of trial {result.trial} (true → predicted)",
        height=100 + PICTURE_ROW_HEIGHT_PX * rows,
    )
    return figure


def _table(result: Mistakes) -> go.Figure:
    mistakes = result.mistakes
    cells = [
        [m.index for m in mistakes],
        [result.class_name(m.label) for m in mistakes],
        [result.class_name(m.predicted) for m in mistakes],
        [f"{m.confidence:.1%}" for m in mistakes],
    ]
    table = go.Table(
        header={"values": ["Row", "True class", "Predicted", "Confidence"]},
        cells={"values": cells},
    )
    figure = go.Figure(table)
    figure.update_layout(
        title=f"The most confident mistakes of trial {result.trial}",
        height=120 + 28 * len(mistakes),
    )
    return figure
