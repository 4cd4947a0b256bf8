"""tunelab: find the best way to train a deep-learning model."""

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
from tunelab.study import Study, create_study, delete_study, list_studies, load_study
from tunelab.trial import Trial, TrialRecord, TrialState

__version__ = "0.1.0"

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
    "create_study",
    "cv",
    "delete_study",
    "list_studies",
    "load_study",
]
