"""The report's mistakes section: the best trial's confusion matrix on the validation part and
the examples it got wrong with the most confidence (:mod:`tunelab.analysis.mistakes`).

Like the ensemble and the attributions, it rebuilds the trial's model from the study's task and
reads its saved weights, so it is built only when the report is asked to trust the storage
(:mod:`tunelab.report.stored`); otherwise the section says how to ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunelab.analysis.mistakes import Mistakes, mistakes
from tunelab.report.html import Markup, Section, figure, join, note
from tunelab.report.stored import from_storage, trusted_task
from tunelab.study import Study
from tunelab.viz import plot_confident_mistakes, plot_confusion_matrix

if TYPE_CHECKING:
    from tunelab.config import StorageTrust
    from tunelab.torch.task import Task

MISTAKES_ID = "mistakes"
TITLE = "Mistakes of the best trial"
SHOWN = 12  # the confidently wrong examples shown


def mistakes_section(study: Study, task: Task | None, trust: StorageTrust | None) -> Section:
    """The best trial's confusion matrix and most confident mistakes, or why there are none;
    ``trust`` None: nothing the storage names is used, and the section says how to ask."""
    if len(study.directions) > 1:
        return Section(MISTAKES_ID, TITLE, note(
            f"No confusion matrix: study {study.study_name!r} has {len(study.directions)} "
            "objectives, so it has no single best trial; "
            "tunelab.analysis.mistakes.mistakes(study, task, trial) takes any trial of it."
        ))
    outcome = from_storage(
        study, trust,
        lambda trusted: mistakes(study, trusted_task(study, task, trusted), top=SHOWN),
    )
    if isinstance(outcome, str):
        return Section(MISTAKES_ID, TITLE, note(f"No confusion matrix: {outcome}"))
    return Section(MISTAKES_ID, TITLE, _html(outcome))


def _html(result: Mistakes) -> Markup:
    wrong = int(result.confusion.sum() - result.confusion.trace())
    parts = [
        note(
            f"Trial {result.trial}'s model on the validation part: {wrong} of "
            f"{int(result.confusion.sum())} examples wrong (accuracy {result.accuracy:.3f}). "
            "Examples it got wrong with high confidence are often mislabelled, ambiguous, or "
            "of a kind the training part lacks."
        ),
        figure(plot_confusion_matrix(result), "figure-confusion-matrix",
               "each true class (rows) by the class predicted (columns): counts, coloured by "
               "the share of the true class."),
    ]
    if result.mistakes:
        parts.append(figure(
            plot_confident_mistakes(result), "figure-confident-mistakes",
            f"the {len(result.mistakes)} wrong predictions the model was surest of: true "
            "class → predicted class (probability given to it).",
        ))
    return join(parts)
