"""The report's ensemble section: the best trials' saved models combined, scored on the test part.

It needs the declarative :class:`tunelab.torch.Task` that trained the study, to rebuild each
trial's model: the one given to :func:`~tunelab.report.write_report`, else the one ``tunelab
run`` stored with the study (:mod:`tunelab.report.stored`), which the section uses only when
the report is asked to trust the storage. When there is no task, or it kept no weights, or its
data has no test part, the section says so and what to change instead.

The section combines the best trials by every method that fits the task, details the one asked
for, and sets each method's test score beside the best single trial's. Bagging retrains the
best trial once per model, as long as that many trials take, so it is added only when asked
(``ensemble_bagging``; ``--bagging`` on the command line), and a note says how otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunelab import _display as fmt
from tunelab.analysis.ensembles import (
    METHODS,
    MIN_MEMBERS,
    EnsembleResult,
    build_ensembles,
    methods_for,
)
from tunelab.analysis.stacking import TOO_FEW_ROWS_FIELD
from tunelab.analysis.trained import trials_with_weights
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.report.html import Column, Markup, Section, facts, join, note, table
from tunelab.report.stored import from_storage, trusted_task
from tunelab.study import Study

if TYPE_CHECKING:
    from tunelab.analysis.bagging import BaggingResult
    from tunelab.config import StorageTrust
    from tunelab.torch.task import Task

ENSEMBLE_ID = "ensemble"
METHOD_NAMES = {
    "greedy": "greedy ensemble selection (Caruana et al., ICML 2004)",
    "average": "the mean of the members' predictions",
    "vote": "majority vote of the members' predicted classes",
    "stack": "stacking: a regularized linear model over the members' predictions, fitted on "
    "the validation part (its regularization chosen by cross-validation there)",
}
ROW_NAMES = {
    "average": "average",
    "vote": "majority vote",
    "greedy": "greedy selection",
    "stack": "stacking",
}
BAGGING_EXAMPLE = 5  # the number of models the note suggests


@dataclass(frozen=True)
class Ensembles:
    """What the section shows: each method's ensemble, the one asked for, and the bagged best
    trial when asked (None: not asked; a sentence: why there is none)."""

    results: dict[str, EnsembleResult]
    method: str
    bagging: BaggingResult | str | None
    stacking_left_out: str | None = None  # why, when the validation part is too small for it


def ensemble_section(
    study: Study,
    task: Task | None,
    size: int,
    method: str,
    trust: StorageTrust | None,
    bagging: int = 0,
) -> Section:
    """The ensembles of the ``size`` best trials with saved weights, ``method``'s in detail,
    and the best trial bagged over ``bagging`` models (0: not at all), or why there are none;
    ``trust`` None: nothing the storage names is used, and the section says how to ask."""
    outcome = _ensembles(study, task, size, method, trust, bagging)
    if isinstance(outcome, str):
        body = note(f"No ensemble: {outcome}")
    else:
        body = _ensembles_html(outcome)
    return Section(ENSEMBLE_ID, "Ensemble of the best trials", body)


def _ensembles(
    study: Study,
    task: Task | None,
    size: int,
    method: str,
    trust: StorageTrust | None,
    bagging: int,
) -> Ensembles | str:
    """The ensembles, or the reason they cannot be built (a sentence that says what to change)."""
    if len(study.directions) > 1:
        return (
            f"study {study.study_name!r} has {len(study.directions)} objectives, so its trials "
            "have no single ranking to pick the best from; ensembles need one objective."
        )

    def build(trusted: StorageTrust) -> Ensembles:
        rebuilt = trusted_task(study, task, trusted)
        k = max(MIN_MEMBERS, min(size, len(trials_with_weights(study))))
        results, stacking_left_out = _combinations(study, rebuilt, k, method)
        return Ensembles(results, method, _bagged(study, rebuilt, bagging), stacking_left_out)

    return from_storage(study, trust, build)


def _combinations(
    study: Study, task: Task, k: int, method: str
) -> tuple[dict[str, EnsembleResult], str | None]:
    """The ensembles by every method that fits the task, and by ``method`` (whose misfit the
    error explains); where the validation part is too small to stack on and stacking was not
    the method asked for, the others without it, and why."""
    fitting = methods_for(task.data.task)
    methods = tuple(m for m in METHODS if m == method or m in fitting)
    try:
        return build_ensembles(study, task, k, methods), None
    except ConfigError as error:
        if method == "stack" or error.field != TOO_FEW_ROWS_FIELD:
            raise
        others = tuple(m for m in methods if m != "stack")
        return build_ensembles(study, task, k, others), str(error)


def _bagged(study: Study, task: Task, n: int) -> BaggingResult | str | None:
    if n == 0:
        return None
    from tunelab.analysis.bagging import bag_best_trial

    try:
        return bag_best_trial(study, task, n)
    except (TunelabError, FloatingPointError) as error:  # a retraining may diverge
        return str(error)


def _ensembles_html(ensembles: Ensembles) -> Markup:
    result = ensembles.results[ensembles.method]
    members = ", ".join(
        f"trial {trial} ({weight:.0%})" for trial, weight in zip(result.members, result.weights)
    )
    rows = [
        ("Method", METHOD_NAMES.get(result.method, result.method)),
        ("Library", "trials " + ", ".join(str(t) for t in result.library)),
        (_members_label(result.method), members),
        (f"Test {result.metric}", f"{fmt.number(result.test_value)} for the ensemble, "
         f"{fmt.number(result.best_single_test_value)} for trial {result.best_single_trial}"),
        (f"Validation {result.metric}", f"{fmt.number(result.val_value)} ({_val_caveat(result)})"),
    ]
    parts = [note(_verdict(result)), facts(rows), _comparison(ensembles)]
    if ensembles.stacking_left_out is not None:
        parts.append(note(f"No stacking: {ensembles.stacking_left_out}"))
    if ensembles.bagging is None:
        parts.append(note(
            "Bagging (the best trial retrained on bootstrap resamples of the training part, "
            "averaged) is left out: it trains as many models as it averages. Ask for it with "
            f"write_report(..., ensemble_bagging={BAGGING_EXAMPLE}) or `tunelab report STUDY "
            f"--trust-storage --bagging {BAGGING_EXAMPLE}`."
        ))
    elif isinstance(ensembles.bagging, str):
        parts.append(note(f"No bagging: {ensembles.bagging}"))
    return join(parts)


def _members_label(method: str) -> str:
    if method == "stack":  # a description of the meta-learner, not a mixing weight
        return "Members (share of the meta-learner's coefficients)"
    return "Members (weight)"


def _val_caveat(result: EnsembleResult) -> str:
    chose = "optimistic: the validation part chose the trials"
    if result.method == "stack":
        return f"of the meta-learner's out-of-fold predictions; {chose}"
    return chose


def _comparison(ensembles: Ensembles) -> Markup:
    """Every way of combining on the test part, beside the best single trial."""
    chosen = ensembles.results[ensembles.method]
    rows = [[f"best single trial (trial {chosen.best_single_trial})",
             fmt.number(chosen.best_single_test_value), ""]]
    for method, result in ensembles.results.items():
        name = f"{ROW_NAMES[method]} of the best {len(result.library)}"
        rows.append([name, fmt.number(result.test_value), _signed(result.improvement)])
    bag = ensembles.bagging
    if bag is not None and not isinstance(bag, str):
        name = f"bagging: trial {bag.trial} retrained on {len(bag.seeds)} bootstrap resamples"
        rows.append([name, fmt.number(bag.test_value), _signed(bag.improvement)])
    columns = [Column("combination"), Column(f"test {chosen.metric}", numeric=True),
               Column("better than the best trial by", numeric=True)]
    return table(columns, rows)


def _signed(improvement: float) -> str:
    return f"{improvement:+.3g}"


def _verdict(result: EnsembleResult) -> str:
    if result.improvement == 0:
        return f"On the test part the ensemble scores the same {result.metric} as the best trial."
    better = "better" if result.improvement > 0 else "worse"
    return (
        f"On the test part the ensemble scores {better} than the best single trial, by "
        f"{abs(result.improvement):.3g} {result.metric}."
    )
