"""Learning curves of many trials: the intermediate values each reported, step by step."""

from __future__ import annotations

from tunelab.exceptions import ConfigError
from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz._common import STATE_COLORS, nothing_to_plot
from tunelab.viz._plotly import go


def plot_intermediate_values(study: Study, *, max_trials: int | None = None) -> go.Figure:
    """One line per trial that reported intermediate values (``trial.report``), coloured by
    its state. Pruned trials are dotted and end in a cross at the step they were stopped, so
    a pruner's decisions can be checked against the curves that went on.

    ``max_trials`` draws at most that many curves (the title then says how many of how
    many): the running trials, then the best quarter by value, then the most recent. Each
    curve is a trace of its own, which a browser draws in time for a few hundred, not for
    ten thousand.
    """
    if max_trials is not None and (
        isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1
    ):
        raise ConfigError(
            f"plot_intermediate_values(max_trials={max_trials!r}): give a positive number of "
            "curves, or None for all.",
            field="max_trials",
        )
    records = [record for record in study.trials if record.intermediate_values]
    if not records:
        raise nothing_to_plot(
            "plot_intermediate_values",
            "no trial with intermediate values",
            "call trial.report(value, step) in the objective (tunelab.torch reports every epoch)",
            study,
        )
    shown = records if max_trials is None else _chosen(study, records, max_trials)
    figure = go.Figure()
    states_in_legend: set[TrialState] = set()
    for record in shown:
        figure.add_trace(_curve(record, show_in_legend=record.state not in states_in_legend))
        states_in_legend.add(record.state)
    title = "Intermediate values"
    if len(shown) < len(records):
        title += f" (running, best and latest: {len(shown):,} of {len(records):,} trials)"
    figure.update_layout(title=title, xaxis_title="Step", yaxis_title="Intermediate value")
    return figure


def _chosen(study: Study, records: list[TrialRecord], limit: int) -> list[TrialRecord]:
    """At most ``limit`` of ``records``, in number order: the running ones, the best quarter
    of the limit by value (single-objective studies), then the most recent."""
    if len(records) <= limit:
        return records
    running = [r for r in records if r.state is TrialState.RUNNING]
    best: list[TrialRecord] = []
    if len(study.directions) == 1:
        valued = [r for r in records if r.state is TrialState.COMPLETE and r.values]
        sign = -1.0 if study.direction == "maximize" else 1.0
        valued.sort(key=lambda r: sign * r.values[0])  # type: ignore[index]
        best = valued[: limit // 4]
    kept = {r.number: r for r in [*running, *best][:limit]}
    for record in reversed(records):
        if len(kept) >= limit:
            break
        kept.setdefault(record.number, record)
    return sorted(kept.values(), key=lambda r: r.number)


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
