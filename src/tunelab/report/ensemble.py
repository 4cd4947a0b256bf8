"""The report's ensemble section: the best trials' saved models combined, scored on the test part.

It needs the declarative :class:`tunelab.torch.Task` that trained the study, to rebuild each
trial's model: the one given to :func:`~tunelab.report.write_report`, else the one ``tunelab
run`` stored with the study (:mod:`tunelab.report.stored`), which the section uses only when
the report is asked to trust the storage. When there is no task, or it kept no weights, or its
data has no test part, the section says so and what to change instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunelab import _display as fmt
from tunelab.analysis.ensembles import MIN_MEMBERS, EnsembleResult, build_ensemble
from tunelab.analysis.trained import trials_with_weights
from tunelab.report.html import Markup, Section, facts, join, note
from tunelab.report.stored import from_storage, trusted_task
from tunelab.study import Study

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

    def build(trusted: StorageTrust) -> EnsembleResult:
        rebuilt = trusted_task(study, task, trusted)
        k = max(MIN_MEMBERS, min(size, len(trials_with_weights(study))))
        return build_ensemble(study, rebuilt, k=k, method=method)

    return from_storage(study, trust, build)


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
