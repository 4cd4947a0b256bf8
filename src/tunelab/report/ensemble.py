"""The report's ensemble section: the best trials' saved models combined, scored on the test part.

It needs the declarative :class:`tunelab.torch.Task` that trained the study, to rebuild each
trial's model: the one given to :func:`~tunelab.report.write_report`, else the one ``tunelab
run`` stored with the study (:func:`stored_task`). When there is none, or it kept no weights, or
its data has no test part, the section says so and what to change instead of scoring anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunelab import _display as fmt
from tunelab.analysis.ensembles import (
    MIN_MEMBERS,
    EnsembleResult,
    build_ensemble,
    trials_with_weights,
)
from tunelab.exceptions import TunelabError
from tunelab.report.html import Markup, Section, facts, join, note
from tunelab.study import Study

if TYPE_CHECKING:
    from tunelab.torch.task import Task

ENSEMBLE_ID = "ensemble"
METHOD_NAMES = {
    "greedy": "greedy ensemble selection (Caruana et al., ICML 2004)",
    "average": "the mean of the members' predictions",
    "vote": "majority vote of the members' predicted classes",
}


def ensemble_section(study: Study, task: Task | None, size: int, method: str) -> Section:
    """The ensemble of the ``size`` best trials with saved weights, or why there is none."""
    outcome = _ensemble(study, task, size, method)
    if isinstance(outcome, str):
        body = note(f"No ensemble: {outcome}")
    else:
        body = _result_html(outcome)
    return Section(ENSEMBLE_ID, "Ensemble of the best trials", body)


def _ensemble(study: Study, task: Task | None, size: int, method: str) -> EnsembleResult | str:
    """The ensemble, or the reason it cannot be built (a sentence that says what to change)."""
    if len(study.directions) > 1:
        return (
            f"study {study.study_name!r} has {len(study.directions)} objectives, so its trials "
            "have no single ranking to pick the best from; ensembles need one objective."
        )
    try:
        task = task if task is not None else stored_task(study)
        k = max(MIN_MEMBERS, min(size, len(trials_with_weights(study))))
        return build_ensemble(study, task, k=k, method=method)
    except TunelabError as error:  # no task, no weights, no test part: the message says which
        return str(error)


def stored_task(study: Study) -> Task:
    """The declarative task that ``tunelab run`` stored with ``study`` (its study file's
    ``task:``), rebuilt as `tunelab run` built it; a TunelabError saying why when it has none."""
    from tunelab.config import STUDY_FILE_ATTR, stored_objective

    # Read afresh: `tunelab run` stores the record after the study object was created.
    record = study.storage.get_study(study.study_name).system_attrs.get(STUDY_FILE_ATTR)
    if not isinstance(record, Mapping):
        raise TunelabError(
            f"study {study.study_name!r} was not started by `tunelab run` from a study file "
            "with a 'task:', and no task was given, so its trials' models cannot be rebuilt; "
            "pass the tunelab.torch.Task that trained it: write_report(study, path, task=task)."
        )
    fields: Mapping[str, Any] = record.get("fields", {})
    if "task" not in fields:
        raise TunelabError(
            f"study {study.study_name!r} optimizes the objective {fields.get('objective')!r}, "
            "not a declarative task, so its trials' models cannot be rebuilt; a study file "
            "with a 'task:' section (and 'test_fraction' in its data) makes them ensemble-able."
        )
    from tunelab.torch.task import Task  # already loaded: the stored task is built with it

    objective = stored_objective(record, f"study {study.study_name!r}")[1]
    assert isinstance(objective, Task)  # a study file with a 'task:' is built into one
    return objective


def _result_html(result: EnsembleResult) -> Markup:
    members = ", ".join(
        f"trial {trial} ({weight:.0%})" for trial, weight in zip(result.members, result.weights)
    )
    rows = [
        ("Method", METHOD_NAMES.get(result.method, result.method)),
        ("Library", "trials " + ", ".join(str(t) for t in result.library)),
        ("Members (weight)", members),
        (f"Test {result.metric}", f"{fmt.number(result.test_value)} for the ensemble, "
         f"{fmt.number(result.best_single_test_value)} for trial {result.best_single_trial}"),
        (f"Validation {result.metric}", f"{fmt.number(result.val_value)} (optimistic: the "
         "validation part chose the trials)"),
    ]
    return join([note(_verdict(result)), facts(rows)])


def _verdict(result: EnsembleResult) -> str:
    if result.improvement == 0:
        return f"On the test part the ensemble scores the same {result.metric} as the best trial."
    better = "better" if result.improvement > 0 else "worse"
    return (
        f"On the test part the ensemble scores {better} than the best single trial, by "
        f"{abs(result.improvement):.3g} {result.metric}."
    )
