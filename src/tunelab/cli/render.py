"""What the commands print, built apart from what they do: tables and summary texts."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tunelab import _display as display
from tunelab.pruners.base import continued_trials
from tunelab.pruners.savings import step_savings
from tunelab.storage import DEFAULT_STORAGE
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.analysis.doctor import Finding
    from tunelab.analysis.explain import ExplainResult
    from tunelab.config import StudyConfig
    from tunelab.storage.base import StudySummary
    from tunelab.study import Study

COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


# run / worker ---------------------------------------------------------------------------------


def run_heading(config: StudyConfig, study: Study, before: Sequence[TrialRecord]) -> Text:
    state = f"resuming after {len(before)} trials" if before else "a new study"
    return Text.assemble(
        "Study ",
        (config.name, "bold"),
        f" ({display.objectives_text(study)}) in {config.storage}: {state}. "
        f"Running {_budget_text(config)}; Ctrl-C stops cleanly.",
    )


def _budget_text(config: StudyConfig) -> str:
    parts = []
    if config.n_trials is not None:
        parts.append(f"{config.n_trials} trials")
    if config.timeout is not None:
        parts.append(f"for {display.duration(config.timeout)}")
    return " or ".join(parts) + (", whichever ends first" if len(parts) > 1 else "")


def objective_text(config: StudyConfig) -> str:
    """What the user fixes when every trial fails: the objective function or the task."""
    return f"objective ({config.objective})" if config.objective else "task"


def interrupted_text(study: Study, first_new: int, storage: str, resume: str) -> Text:
    trials = study.trials
    finished = sum(r.state.is_finished() for r in trials)
    complete = sum(r.state is TrialState.COMPLETE for r in trials)
    interrupted = [
        r.number for r in trials if r.number >= first_new and "interrupt" in (r.fail_reason or "")
    ]
    note = f" Trial {interrupted[-1]}, which was running, is marked FAIL." if interrupted else ""
    return Text(
        f"Interrupted. Study {study.study_name!r} keeps all {finished} finished trials "
        f"({complete} complete) in {storage}.{note} Continue with: {resume}",
        style="yellow",
    )


def run_summary(study: Study, new: Sequence[TrialRecord], storage: str, resume: str) -> Text:
    counts = Counter(r.state for r in new)
    carried_on = continued_trials(study.trials)
    paused = sum(r.state is TrialState.PRUNED and r.number in carried_on for r in new)
    pruned = counts[TrialState.PRUNED] - paused
    numbers = f" (trials {new[0].number}-{new[-1].number})" if new else ""
    text = (
        f"This run: {counts[TrialState.COMPLETE]} complete, {pruned} pruned, "
        + (f"{paused} paused and carried on, " if paused else "")
        + f"{counts[TrialState.FAIL]} failed{numbers}. "
    )
    savings = step_savings(new)
    if pruned and savings is not None:
        text += (
            f"Pruning saved {savings.saved_fraction:.0%} of the steps: {savings.run} run where "
            f"{savings.without_pruning} would have run every trial to step "
            f"{savings.full_steps}. "
        )
    best = best_text(study)
    text += f"Best so far: {best}. " if best else f"{display.no_best_text(study)}. "
    text += f"Stored in {storage}; `{resume}` adds more trials, `tunelab show {study.study_name}"
    text += f"{'' if storage == DEFAULT_STORAGE else ' --storage ' + storage}` shows them."
    return Text(text)


# studies / show -------------------------------------------------------------------------------


def studies_table(url: str, summaries: Sequence[StudySummary]) -> Table:
    table = Table(
        title=f"Studies in {url}", box=None, header_style="bold underline", pad_edge=False
    )
    table.add_column("name", no_wrap=True)
    table.add_column("goal")
    for column in ("trials", "done", "pruned", "fail", "run", "best"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for s in summaries:
        best = display.number(s.best_value) if len(s.directions) == 1 else "Pareto front"
        table.add_row(
            s.name,
            ",".join(direction[:3] for direction in s.directions),
            str(s.n_trials),
            *(str(s.counts.get(state, 0)) for state in COUNTED_STATES),
            best,
            f"{s.created_at:%Y-%m-%d}",
        )
    return table


def study_overview(study: Study, storage: str, top: int) -> list[RenderableType]:
    """What `tunelab show` prints: the study's counts, then its ``top`` best trials."""
    trials = study.trials
    counts = Counter(r.state for r in trials)
    created = study.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    per_state = ", ".join(
        f"{counts[s]} {s.name.lower()}" for s in (*COUNTED_STATES, TrialState.WAITING)
    )
    best = best_text(study) or display.no_best_text(study).lower()
    lines: list[RenderableType] = [
        Text.assemble("Study ", (study.study_name, "bold"), f" in {storage}, created {created}"),
        f"Objectives: {display.objectives_text(study)}",
        f"Trials: {len(trials)} in all: {per_state}",
        f"Best: {best}",
    ]
    if counts[TrialState.COMPLETE]:
        lines.append(best_table(study, top))
    return lines


def best_table(study: Study, k: int) -> Table:
    """The ``k`` best completed trials, or the Pareto front of a multi-objective study."""
    names = display.objective_headings(study)
    multi = len(names) > 1
    records = display.ranked_trials(study)[:k]
    title = "Pareto front" if multi else f"Best {len(records)} trials"
    table = Table(title=title)
    table.add_column("trial", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("params")
    table.add_column("duration", justify="right")
    for record in records:
        table.add_row(
            str(record.number),
            *(display.number(v) for v in record.values or ()),
            display.params_text(record.params),
            display.duration(record.duration),
        )
    return table


def best_text(study: Study) -> str | None:
    ranked = display.ranked_trials(study)
    if not ranked:
        return None
    if len(study.directions) > 1:
        return f"{len(ranked)} trial(s) on the Pareto front"
    best = ranked[0]
    value = display.number(best.values[0] if best.values else None)
    params = display.params_text(best.params)
    return f"{study.objective_names[0]} {value} at trial {best.number} ({params})"


# export ---------------------------------------------------------------------------------------


def rows_csv(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _plain(value) for key, value in row.items()})
    return buffer.getvalue()


def rows_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows], indent=2) + "\n"


def _plain(value: Any) -> Any:
    """A value as a CSV cell or JSON: times in ISO 8601, durations in seconds."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


# doctor ---------------------------------------------------------------------------------------


def study_heading(study: Study) -> Text:
    objectives = display.objectives_text(study)
    return Text.assemble("Study ", (study.study_name, "bold"), f" ({objectives})")


def trial_heading(study: Study, record: TrialRecord) -> Text:
    values = ", ".join(display.number(v) for v in record.values or ())
    outcome = record.state.name.lower() + (f", {values}" if values else "")
    return Text.assemble(
        f"Trial {record.number} of study ", (study.study_name, "bold"),
        f" ({outcome}): {display.params_text(record.params) or 'no parameters'}",
    )


def findings(found: Sequence[Finding], title: str, verdict: str) -> list[RenderableType]:
    """A section of the doctor's output: its title with the verdict (what was checked, and
    what could not be), then the table of the findings, if any."""
    heading = Text.assemble((title, "bold"), ": ", verdict)
    if not found:
        return [heading]
    from tunelab.analysis.doctor import findings_table

    return [heading, findings_table(found, title=None)]


# explain --------------------------------------------------------------------------------------


def explain_heading(study: Study, result: ExplainResult) -> Text:
    from tunelab.analysis.explain import METHOD_NAMES

    part = {"val": "validation", "test": "test"}[result.split]
    methods = ", ".join(METHOD_NAMES[m] for m in result.methods)
    return Text.assemble(
        f"Trial {result.trial} of study ", (study.study_name, "bold"),
        f": attributions of {result.n_samples} {part} samples by {methods}.",
    )


def feature_table(result: ExplainResult, top: int) -> Table:
    """The ``top`` features by their share of the headline method's attribution (mean ± its
    standard error over the baselines), with each other method's share beside it."""
    from tunelab.analysis.explain import METHOD_NAMES

    headline = result.headline
    others = [m for m in result.methods if m != headline]
    ranking = result.ranking(headline)
    table = Table(title=f"Features by their share of the attribution (top {min(top, len(ranking))}"
                  f" of {len(ranking)})")
    table.add_column("rank", justify="right")
    table.add_column("feature")
    table.add_column(METHOD_NAMES[headline], justify="right")
    for method in others:
        table.add_column(METHOD_NAMES[method], justify="right")
    shares = {m: result.attributions[m].mean_shares for m in others}
    for rank, feature in enumerate(ranking[:top], start=1):
        spread = "" if math.isnan(feature.stderr) else f" ± {feature.stderr:.1%}"
        table.add_row(
            str(rank), feature.name, f"{feature.share:.1%}{spread}",
            *(f"{shares[m][feature.index]:.1%}" for m in others),
        )
    return table


def class_table(result: ExplainResult) -> Table:
    """Per class of pictures: how much attribution a picture gets, how concentrated it is,
    and where it peaks."""
    from tunelab.analysis.explain import CONCENTRATION_TOP, METHOD_NAMES, class_summaries

    headline = result.headline
    table = Table(title=f"Per class ({METHOD_NAMES[headline]})")
    table.add_column("class")
    table.add_column("samples", justify="right")
    table.add_column("attribution per sample", justify="right")
    table.add_column(f"share in the top {CONCENTRATION_TOP:.0%} of pixels", justify="right")
    table.add_column("hottest pixel (row, column)", justify="right")
    for summary in class_summaries(result, headline):
        table.add_row(
            summary.name, str(summary.samples), f"{summary.attribution:.3g}",
            f"{summary.concentration:.0%}", f"{summary.hottest[0]}, {summary.hottest[1]}",
        )
    return table
