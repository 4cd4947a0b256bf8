"""Studies: a named search whose trials live in a storage.

:class:`Study` asks for trials and tells their results; :func:`create_study`,
:func:`load_study`, :func:`copy_study`, :func:`delete_study`, :func:`list_studies` and
Optuna's :func:`get_all_study_summaries` and :func:`get_all_study_names` manage studies in a
storage; :mod:`tunelab.study.optimize` and :mod:`tunelab.study.runner` run the objective;
:mod:`tunelab.study.steering` steers a running study from any process (stop, prune, enqueue
checked parameters, notes).
"""

from tunelab._direction import StudyDirection
from tunelab.storage.base import StudySummary
from tunelab.study._callbacks import MaxTrialsCallback
from tunelab.study._studies import (
    DEFAULT_PRUNER,
    DIRECTIONS,
    check_direction,
    copy_study,
    create_study,
    delete_study,
    get_all_study_names,
    get_all_study_summaries,
    list_studies,
    load_study,
)
from tunelab.study._study import Study
from tunelab.study.optimize import Callback
from tunelab.study.runner import Objective, TrialRunner
from tunelab.study.steering import (
    enqueue_checked,
    notes,
    request_prune,
    request_stop,
    set_note,
    stop_is_requested,
)

__all__ = [
    "DEFAULT_PRUNER",
    "DIRECTIONS",
    "Callback",
    "MaxTrialsCallback",
    "Objective",
    "Study",
    "StudyDirection",
    "StudySummary",
    "TrialRunner",
    "check_direction",
    "copy_study",
    "create_study",
    "delete_study",
    "enqueue_checked",
    "get_all_study_names",
    "get_all_study_summaries",
    "list_studies",
    "load_study",
    "notes",
    "request_prune",
    "request_stop",
    "set_note",
    "stop_is_requested",
]
