"""tunelab: find the best way to train a deep-learning model."""

import importlib
from typing import Any

from tunelab import cv
from tunelab.exceptions import (
    ConfigError,
    DuplicatedStudyError,
    SearchSpaceError,
    StorageError,
    StudyNotFoundError,
    TrialPruned,
    TunelabError,
)
from tunelab.space import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.study import (
    Study,
    copy_study,
    create_study,
    delete_study,
    get_all_study_names,
    get_all_study_summaries,
    list_studies,
    load_study,
)
from tunelab.trial import Trial, TrialRecord, TrialState, create_trial

__version__ = "0.1.0"

# Reached as attributes, as Optuna's are (``optuna.visualization.plot_...`` after ``import
# optuna``), but imported only when first used: some need plotly or pandas.
_SUBMODULES = (
    "artifacts",
    "distributions",
    "exceptions",
    "importance",
    "integrations",
    "logging",
    "pruners",
    "samplers",
    "search_space",
    "storages",
    "study",
    "torch",
    "trial",
    "visualization",
)


def __getattr__(name: str) -> Any:
    if name not in _SUBMODULES:
        raise AttributeError(f"module 'tunelab' has no attribute {name!r}")
    return importlib.import_module(f"tunelab.{name}")

__all__ = [
    "CategoricalDistribution",
    "ConfigError",
    "DuplicatedStudyError",
    "FloatDistribution",
    "IntDistribution",
    "SearchSpaceError",
    "StorageError",
    "Study",
    "StudyNotFoundError",
    "Trial",
    "TrialPruned",
    "TrialRecord",
    "TrialState",
    "TunelabError",
    "copy_study",
    "create_study",
    "create_trial",
    "cv",
    "delete_study",
    "get_all_study_names",
    "get_all_study_summaries",
    "list_studies",
    "load_study",
]
