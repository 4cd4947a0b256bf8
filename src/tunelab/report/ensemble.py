"""The report's ensemble section: the best trials' saved models combined, scored on the test part.

It needs the declarative :class:`tunelab.torch.Task` that trained the study, to rebuild each
trial's model: the one given to :func:`~tunelab.report.write_report`, else the one ``tunelab
run`` stored with the study (:func:`stored_task`). Rebuilding a stored task imports the code and
reads the files its record names, and every trial's weights are read from the folder its record
names, so the section is built only when the report is asked to trust the storage, within the
limits of that :class:`~tunelab.config.StorageTrust`. When there is no task, or it kept no
weights, or its data has no test part, the section says so and what to change instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab import _display as fmt
from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.analysis.ensembles import (
    MIN_MEMBERS,
    EnsembleResult,
    build_ensemble,
    trials_with_weights,
)
from tunelab.exceptions import TunelabError
from tunelab.report.html import Markup, Section, facts, join, note
from tunelab.study import Study
from tunelab.telemetry import artifact_dir

if TYPE_CHECKING:
    from tunelab.config import StorageTrust
    from tunelab.torch.task import Task

ENSEMBLE_ID = "ensemble"
METHOD_NAMES = {
    "greedy": "greedy ensemble selection (Caruana et al., ICML 2004)",
    "average": "the mean of the members' predictions",
    "vote": "majority vote of the members' predicted classes",
}


def ensemble_section(
    study: Study, task: Task | None, size: int, method: str, trust: StorageTrust | None
) -> Section:
    """The ensemble of the ``size`` best trials with saved weights, or why there is none;
    ``trust`` None: nothing the storage names is used, and the section says how to ask."""
    outcome = _ensemble(study, task, size, method, trust)
    if isinstance(outcome, str):
        body = note(f"No ensemble: {outcome}")
    else:
        body = _result_html(outcome)
    return Section(ENSEMBLE_ID, "Ensemble of the best trials", body)


def _ensemble(
    study: Study, task: Task | None, size: int, method: str, trust: StorageTrust | None
) -> EnsembleResult | str:
    """The ensemble, or the reason it cannot be built (a sentence that says what to change)."""
    if len(study.directions) > 1:
        return (
            f"study {study.study_name!r} has {len(study.directions)} objectives, so its trials "
            "have no single ranking to pick the best from; ensembles need one objective."
        )
    if trust is None:
        return (
            "it is built from what the storage names (the study's task, rebuilt by importing "
            "its code and reading its data, and the trials' saved weights), which the report "
            "uses only when asked; if you trust this storage, run `tunelab report "
            f"{shlex.quote(study.study_name)} --trust-storage` (from Python: "
            "write_report(..., trust_storage=True))."
        )
    from tunelab.config import UntrustedStorageError  # importable: the trust was made from it

    try:
        given = task is not None
        task = task if task is not None else stored_task(study, trust)
        _check_weight_folders(study, task, given, trust)
        k = max(MIN_MEMBERS, min(size, len(trials_with_weights(study))))
        return build_ensemble(study, task, k=k, method=method)
    except UntrustedStorageError:
        raise  # the user set the limit: crossing it is an error, not a missing section
    except TunelabError as error:  # no task, no weights, no test part: the message says which
        return str(error)


def stored_task(study: Study, trust: StorageTrust | None = None) -> Task:
    """The declarative task that ``tunelab run`` stored with ``study`` (its study file's
    ``task:``), rebuilt as `tunelab run` built it, within ``trust`` (by default, as
    :class:`~tunelab.config.StorageTrust` says); a TunelabError saying why when it has none."""
    from tunelab.config import stored_objective

    record = _study_file_record(study)
    if record is None:
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

    objective = stored_objective(record, f"study {study.study_name!r}", trust=trust)[1]
    assert isinstance(objective, Task)  # a study file with a 'task:' is built into one
    return objective


def _study_file_record(study: Study) -> Mapping[str, Any] | None:
    # Read afresh: `tunelab run` stores the record after the study object was created.
    record = study.storage.get_study(study.study_name).system_attrs.get(STUDY_FILE_ATTR)
    return record if isinstance(record, Mapping) else None


def _check_weight_folders(study: Study, task: Task, given: bool, trust: StorageTrust) -> None:
    """Refuse trials whose stored weights folder lies outside the data roots, before any is
    read; the artifacts folder of a task the caller ``given`` is the caller's, so it counts."""
    from tunelab.config import stored_study_file

    if task.artifacts is None:
        return  # build_ensemble refuses a task that keeps no weights before it reads any
    record = _study_file_record(study)
    roots = trust.roots(stored_study_file(record) if record is not None else None)
    if given:
        roots += (Path(task.artifacts).resolve(),)
    for trial in fmt.ranked_trials(study):
        folder = artifact_dir(trial)
        if folder is not None:
            where = f"study {study.study_name!r}: the saved weights of trial {trial.number}"
            trust.check_path(folder, Path.cwd(), roots, where)


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
