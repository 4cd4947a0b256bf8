"""When each trial ran, and on which worker."""

from __future__ import annotations

from datetime import datetime, timezone

from tunelab._attrs import DEVICE_ATTR, WORKER_ATTR
from tunelab.exceptions import ConfigError
from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz._common import STATE_COLORS, nothing_to_plot
from tunelab.viz._plotly import go


def plot_timeline(study: Study, n_recent_trials: int | None = None) -> go.Figure:
    """When each trial ran, one row per worker: a bar per started trial from its start to its
    end (to now while it runs), coloured by state; only the last ``n_recent_trials`` started
    trials, if given.

    A trial records the process that ran it ("host:pid") and, under ``optimize(devices=...)``,
    the device its worker was given; a row is one process (and device). A fused population
    trains its members side by side in one process, so their bars overlap on its row.
    """
    if n_recent_trials is not None and (
        isinstance(n_recent_trials, bool) or not isinstance(n_recent_trials, int)
        or n_recent_trials < 1
    ):
        raise ConfigError(
            f"plot_timeline: n_recent_trials={n_recent_trials!r} must be a positive integer, "
            "or None for every trial.",
            field="n_recent_trials",
        )
    records = [record for record in study.trials if record.datetime_start is not None]
    records = records[-n_recent_trials:] if n_recent_trials else records
    if not records:
        raise nothing_to_plot(
            "plot_timeline", "no started trial", "run study.optimize(...) first", study
        )
    rows = list(dict.fromkeys(_worker_label(r) for r in sorted(records, key=_started)))
    now = datetime.now(timezone.utc)
    figure = go.Figure()
    for state in TrialState:
        in_state = [record for record in records if record.state is state]
        if not in_state:
            continue
        starts, lengths = zip(*(_bar_span(record, now) for record in in_state))
        figure.add_trace(
            go.Bar(
                y=[_worker_label(record) for record in in_state],
                base=starts,
                x=lengths,
                customdata=[record.number for record in in_state],
                hovertemplate="trial %{customdata}<extra>%{y}</extra>",
                orientation="h",
                marker_color=STATE_COLORS[state],
                name=state.name,
            )
        )
    figure.update_layout(title="Timeline", xaxis_type="date", xaxis_title="Time",
                         barmode="overlay")
    figure.update_yaxes(title_text="Worker", categoryorder="array", categoryarray=rows)
    return figure


def _started(record: TrialRecord) -> tuple[datetime, int]:
    assert record.datetime_start is not None
    return record.datetime_start, record.number


def _worker_label(record: TrialRecord) -> str:
    """The process that ran a trial, with its device if it was given one."""
    worker = str(record.system_attrs.get(WORKER_ATTR, "unknown worker"))
    device = record.system_attrs.get(DEVICE_ATTR)
    return f"{worker} ({device})" if device else worker


def _bar_span(record: TrialRecord, now: datetime) -> tuple[datetime, float]:
    """Where a started trial's bar begins, and its length in milliseconds (the unit of a
    bar's length on a date axis). The start is local wall-clock time without a zone, since
    plotly.js has no time zones and would misread an offset."""
    start = record.datetime_start
    assert start is not None
    length = ((record.datetime_complete or now) - start).total_seconds() * 1000.0
    return start.astimezone().replace(tzinfo=None), length
