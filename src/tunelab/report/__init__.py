"""A study as one self-contained HTML file: :func:`write_report`.

The file opens offline in any browser (plotly.js is inlined once; nothing is fetched) and holds,
each in a ``<section>`` with a stable id:

- ``summary``: name, objectives, trial counts by state, the best result, when the trials ran;
- ``best-trials``: the best trials (the Pareto front for several objectives) and their parameters;
- ``figures``: every :mod:`tunelab.viz` figure that applies, and the training figures of the best
  trial when it has telemetry; a figure with nothing to draw leaves a note saying why;
- ``importance``: fANOVA importances of the parameters (a note when there are too few trials);
- ``doctor``: the training doctor's findings about the study and its best trials;
- ``ensemble``: the best trials' models combined (averaging, voting, greedy selection, stacking)
  and scored on the test part beside the best trial, when the study was trained by a
  declarative :class:`tunelab.torch.Task` that kept its weights and the report is asked to
  trust the storage (a note saying what is missing otherwise); the best trial bagged too, when
  asked, since that retrains it;
- ``explain``: the attributions of the best trial's model (which inputs its predictions rest
  on), under the ensemble's conditions but for the test part: it explains the validation part;
- ``mistakes``: the best trial's confusion matrix on the validation part and the examples it
  got wrong with the most confidence, under the same conditions (classification only).

Every section but the ensemble, the attributions and the mistakes is made from the stored
records alone (trials, telemetry, attributes): by default the report imports no module and reads
no file that the storage names, so that reporting on a storage someone else can write runs
nobody's code. Those three rebuild the study's task and read the trials' saved weights, which
``trust_storage`` allows.

Needs the ``plots`` extra (plotly); importances need scikit-learn and ensembles ``torch``
(both in the ``torch`` extra), attributions also Captum (the ``explain`` extra); telemetry is
read without any of them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import tunelab
from tunelab import _display as fmt
from tunelab._options import check_int
from tunelab.analysis.ensembles import MIN_MEMBERS, check_method
from tunelab.exceptions import ConfigError
from tunelab.report.ensemble import ENSEMBLE_ID, ensemble_section
from tunelab.report.explain import EXPLAIN_ID, explain_section
from tunelab.report.figures import (
    FIGURES_ID,
    IMPORTANCE_ID,
    compute_importances,
    figures_section,
    importance_section,
)
from tunelab.report.findings import DOCTOR_ID, doctor_section
from tunelab.report.html import page
from tunelab.report.mistakes import MISTAKES_ID, mistakes_section
from tunelab.report.stored import stored_task
from tunelab.report.summary import (
    BEST_TRIALS_ID,
    SUMMARY_ID,
    best_trials_section,
    summary_section,
)
from tunelab.storage.files import OutputOption, write_text_file
from tunelab.study import Study

if TYPE_CHECKING:
    from tunelab.config import StorageTrust
    from tunelab.torch.task import Task

WHERE = "write_report"
_PATH = OutputOption(f"{WHERE}: path", "path", "overwrite=True")
SECTION_IDS = (
    SUMMARY_ID, BEST_TRIALS_ID, FIGURES_ID, IMPORTANCE_ID, DOCTOR_ID, ENSEMBLE_ID, EXPLAIN_ID,
    MISTAKES_ID,
)
"""The ids of the report's sections, in the order they appear."""


def write_report(
    study: Study,
    path: str | Path,
    *,
    task: Task | None = None,
    top: int = 10,
    diagnosed: int = 3,
    ensemble_size: int = 5,
    ensemble_method: str = "greedy",
    ensemble_bagging: int = 0,
    trust_storage: bool | StorageTrust = False,
    overwrite: bool = False,
) -> Path:
    """Write the HTML report of ``study`` to ``path`` and return that path.

    Args:
        study: any study, finished or not, with one objective or several.
        path: the HTML file to write (its folder must exist). Never the file of the study's
            storage; written whole or not at all (a temporary file renamed into place).
        task: the :class:`tunelab.torch.Task` that trained the study, for the ensemble and the
            attributions; by default the task that ``tunelab run`` stored with the study, if
            any (rebuilt only with ``trust_storage``).
        top: how many best trials the best-trials table lists.
        diagnosed: how many best trials the training doctor examines.
        ensemble_size: how many best trials with saved weights the ensemble may combine.
        ensemble_method: the ensemble the section details: ``"greedy"``, ``"average"``,
            ``"vote"`` or ``"stack"`` (see :func:`tunelab.analysis.ensembles.build_ensemble`);
            the section scores every method that fits the task beside it.
        ensemble_bagging: how many models to bag the best trial over (see
            :func:`tunelab.analysis.bagging.bag_best_trial`): each is a full retraining of
            the trial, so 0, the default, leaves bagging out.
        trust_storage: whether the ensemble and the attributions may use what the storage
            names: rebuild the stored task (importing its code, reading its data) and read the
            trials' saved weights. True trusts it within the defaults of
            :class:`tunelab.config.StorageTrust`; a ``StorageTrust(trusted_modules=...,
            data_roots=...)`` sets the limits. False (the default) leaves them out with a note.
        overwrite: replace ``path`` if it exists; otherwise an existing file is a
            :class:`~tunelab.exceptions.ConfigError`, raised before the report is made.
    """
    target = Path(path)
    write_text_file(
        target,
        lambda: render_report(
            study, task=task, top=top, diagnosed=diagnosed, ensemble_size=ensemble_size,
            ensemble_method=ensemble_method, ensemble_bagging=ensemble_bagging,
            trust_storage=trust_storage,
        ),
        _PATH,
        overwrite=overwrite,
        storage_files=study.storage.files(),
    )
    return target


def render_report(
    study: Study,
    *,
    task: Task | None = None,
    top: int = 10,
    diagnosed: int = 3,
    ensemble_size: int = 5,
    ensemble_method: str = "greedy",
    ensemble_bagging: int = 0,
    trust_storage: bool | StorageTrust = False,
) -> str:
    """The report of ``study`` as HTML text; the arguments are those of :func:`write_report`."""
    check_int(WHERE, "top", top, 1, "the number of best trials to list.")
    check_int(WHERE, "diagnosed", diagnosed, 1, "the number of best trials the doctor examines.")
    check_int(
        WHERE, "ensemble_size", ensemble_size, MIN_MEMBERS,
        "an ensemble combines at least 2 trials.",
    )
    ensemble_method = check_method(WHERE, "ensemble_method", ensemble_method)
    _check_bagging(ensemble_bagging)
    trust = _storage_trust(trust_storage)
    records = study.trials
    ranked = fmt.ranked_trials(study)  # one ranking for every section
    importances = compute_importances(study)
    sections = [
        summary_section(study, records, ranked),
        best_trials_section(study, ranked, top),
        figures_section(study, importances, ranked),
        importance_section(study, importances),
        doctor_section(study, ranked, diagnosed),
        ensemble_section(study, task, ensemble_size, ensemble_method, trust, ensemble_bagging),
        explain_section(study, task, trust),
        mistakes_section(study, task, trust),
    ]
    generated = fmt.moment(datetime.now(timezone.utc))
    return page(
        title=f"tunelab report: {study.study_name}",
        subtitle=f"{fmt.objectives_text(study)} · {len(records)} trials",
        sections=sections,
        footer=f"Written by tunelab {tunelab.__version__} on {generated}.",
    )


def _check_bagging(models: object) -> None:
    check_int(WHERE, "ensemble_bagging", models, 0, "0 leaves bagging out.")
    if models == 1:
        raise ConfigError(
            f"{WHERE}: ensemble_bagging=1 bags a single model; give 0 to leave bagging out, "
            "or at least 2 models to average.",
            field="ensemble_bagging",
        )


def _storage_trust(trust_storage: object) -> StorageTrust | None:
    """The limits ``trust_storage`` sets; None when the storage is not to be trusted at all."""
    if trust_storage is False:
        return None
    from tunelab.config import StorageTrust  # only a report that trusts the storage needs it

    if trust_storage is True:
        return StorageTrust()
    if not isinstance(trust_storage, StorageTrust):
        raise ConfigError(
            f"{WHERE}: trust_storage={trust_storage!r} must be True, False or a "
            "tunelab.config.StorageTrust(trusted_modules=..., data_roots=...).",
            field="trust_storage",
        )
    return trust_storage


__all__ = ["SECTION_IDS", "render_report", "stored_task", "write_report"]
