"""The report's first two sections: what the study is and holds, and its best trials."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tunelab import _display as fmt
from tunelab._attrs import OVER_LIMIT_ATTR
from tunelab.constraints import is_feasible
from tunelab.report.html import Column, Markup, Section, badge, facts, join, note, table
from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState

SUMMARY_ID = "summary"
BEST_TRIALS_ID = "best-trials"
STATE_ORDER = (
    TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING
)


def summary_section(
    study: Study, records: Sequence[TrialRecord], best: Sequence[TrialRecord]
) -> Section:
    """Name, objectives, trial counts by state, the best result (``best``: the ranked trials)
    and when the trials ran."""
    rows: list[tuple[str, object]] = [
        ("Study", study.study_name),
        ("Objectives", fmt.objectives_text(study)),
        ("Trials", _state_counts(records)),
        ("Best", _best_text(study, best)),
    ]
    if best and len(study.directions) == 1:
        rows.append(("Best parameters", fmt.params_text(best[0].params) or "(none)"))
    rows += [("Ran", _time_span(records)), ("Created", fmt.moment(study.created_at))]
    return Section(SUMMARY_ID, "Summary", facts(rows))


def _state_counts(records: Sequence[TrialRecord]) -> Markup:
    counts = Counter(record.state for record in records)
    badges = [
        badge(f"{counts[state]} {state.name.lower()}", state.name)
        for state in STATE_ORDER
        if counts[state]
    ]
    return join([f"{len(records)} in all ", *badges])


def _best_text(study: Study, best: Sequence[TrialRecord]) -> str:
    if not best:
        return fmt.no_best_text(study).lower()
    if len(study.directions) > 1:
        return f"{len(best)} trial(s) on the Pareto front"
    value = best[0].values[0] if best[0].values else None
    return f"{study.objective_names[0]} = {fmt.number(value)} at trial {best[0].number}"


def _time_span(records: Sequence[TrialRecord]) -> str:
    """From the first trial's start to the last one's end, and how long that was."""
    starts = [r.datetime_start for r in records if r.datetime_start is not None]
    ends = [r.datetime_complete for r in records if r.datetime_complete is not None]
    if not starts:
        return "no trial has started"
    first = min(starts)
    if not ends:
        return f"from {fmt.moment(first)}; no trial has finished"
    last = max(ends)
    span = fmt.duration((last - first).total_seconds())
    return f"{fmt.moment(first)} to {fmt.moment(last)} ({span})"


def best_trials_section(study: Study, ranked: Sequence[TrialRecord], top: int) -> Section:
    """The ``top`` best of the ``ranked`` trials with their values and parameters (a column
    per parameter, so that values compare down a column; blank where a conditional parameter
    was not set), and how many completed trials broke a constraint."""
    infeasible = [r for r in study.get_trials((TrialState.COMPLETE,)) if not is_feasible(r)]
    after = [note(_infeasible_text(infeasible))] if infeasible else []
    if not ranked:
        return Section(BEST_TRIALS_ID, "Best trials", join([note(
            f"{fmt.no_best_text(study)}, so there is nothing to rank; run more trials."
        ), *after]))
    shown = ranked[:top]
    params = list(dict.fromkeys(name for record in shown for name in record.params))
    columns = [
        Column("trial", numeric=True),
        *(Column(name, numeric=True) for name in fmt.objective_headings(study)),
        *(Column(name) for name in params),
        Column("duration", numeric=True),
    ]
    rows = [_best_row(record, params) for record in shown]
    intro = _best_intro(study, len(shown), len(ranked))
    return Section(BEST_TRIALS_ID, "Best trials", join([note(intro), table(columns, rows), *after]))


def _infeasible_text(infeasible: Sequence[TrialRecord]) -> str:
    """How many completed trials broke a constraint, with the limit the first one broke."""
    text = f"{len(infeasible)} completed trial(s) broke a constraint and are not ranked"
    reasons = [r for r in infeasible if OVER_LIMIT_ATTR in r.user_attrs]
    if reasons:
        text += f"; trial {reasons[0].number}: {reasons[0].user_attrs[OVER_LIMIT_ATTR]}"
    return text + "."


def _best_row(record: TrialRecord, params: Sequence[str]) -> list[str]:
    return [
        str(record.number),
        *(fmt.number(value) for value in record.values or ()),
        *(fmt.param_value(record.params[p]) if p in record.params else "" for p in params),
        fmt.duration(record.duration),
    ]


def _best_intro(study: Study, shown: int, ranked: int) -> str:
    if len(study.directions) > 1:
        listed = f"the first {shown} of its {ranked} trials" if shown < ranked else (
            f"its {ranked} trial(s)")
        return (
            f"The Pareto front, {listed}: no other completed trial beats them on every "
            "objective."
        )
    direction = "highest" if study.direction == "maximize" else "lowest"
    name = study.objective_names[0]
    if shown == ranked:
        return f"All {ranked} completed trial(s), the {direction} {name} first."
    return f"The {shown} completed trial(s) with the {direction} {name}, of {ranked} completed."
