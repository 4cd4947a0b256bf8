"""Learning curves of many trials: the intermediate values each reported, step by step."""

from __future__ import annotations

from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz._common import STATE_COLORS, nothing_to_plot
from tunelab.viz._plotly import go


def plot_intermediate_values(study: Study) -> go.Figure:
    """One line per trial that reported intermediate values (``trial.report``), coloured by
    its state. Pruned trials are dotted and end in a cross at the step they were stopped, so
    a pruner's decisions can be checked against the curves that went on."""
    records = [record for record in study.trials if record.intermediate_values]
    if not records:
        raise nothing_to_plot(
            "plot_intermediate_values",
            "no trial with intermediate values",
            "call trial.report(value, step) in the objective (tunelab.torch reports every epoch)",
            study,
        )
    figure = go.Figure()
    states_in_legend: set[TrialState] = set()
    for record in records:
        figure.add_trace(_curve(record, show_in_legend=record.state not in states_in_legend))
        states_in_legend.add(record.state)
    figure.update_layout(
        title="Intermediate values", xaxis_title="Step", yaxis_title="Intermediate value"
    )
    return figure


def _curve(record: TrialRecord, show_in_legend: bool) -> go.Scatter:
    """A trial's curve; traces share a legend entry per state, since one entry per trial
    would bury the legend."""
    steps = sorted(record.intermediate_values)
    pruned = record.state is TrialState.PRUNED
    symbols, sizes = ["circle"] * len(steps), [5] * len(steps)
    if pruned:
        symbols[-1], sizes[-1] = "x", 10
    return go.Scatter(
        x=steps,
        y=[record.intermediate_values[step] for step in steps],
        mode="lines+markers",
        name=record.state.name,
        legendgroup=record.state.name,
        showlegend=show_in_legend,
        line={"color": STATE_COLORS[record.state], "dash": "dot" if pruned else "solid"},
        marker={"symbol": symbols, "size": sizes},
        customdata=[record.number] * len(steps),
        hovertemplate=f"trial {record.number}<br>step %{{x}}<br>value %{{y}}<extra>"
        f"{record.state.name}</extra>",
    )
