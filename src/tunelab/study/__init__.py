"""Studies: a named search whose trials live in a storage.

:class:`Study` asks for trials and tells their results; :func:`create_study`,
:func:`load_study`, :func:`delete_study` and :func:`list_studies` manage studies in a storage;
:mod:`tunelab.study.optimize` and :mod:`tunelab.study.runner` run the objective.
"""

from tunelab.study._studies import (
    DIRECTIONS,
    check_direction,
    create_study,
    delete_study,
    list_studies,
    load_study,
)
from tunelab.study._study import Study
from tunelab.study.optimize import Callback
from tunelab.study.runner import Objective, TrialRunner

__all__ = [
    "DIRECTIONS",
    "Callback",
    "Objective",
    "Study",
    "TrialRunner",
    "check_direction",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
]
