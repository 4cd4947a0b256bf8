"""Exceptions a user of tunelab can meet.

Every error that a user can cause derives from :class:`TunelabError`; its message names the
field at fault and how to fix it. :class:`TrialPruned` is not an error: an objective raises it
to tell the study that the trial was stopped early on purpose.

Optuna's names for the same errors are aliases at the end, so that a script's ``except
optuna.exceptions.StorageInternalError:`` catches what tunelab raises.
"""

from __future__ import annotations


class TunelabError(Exception):
    """Base class of the errors tunelab raises for a user's mistake."""


class SearchSpaceError(TunelabError, ValueError):
    """A distribution cannot be built: impossible range, bad step, no choices, ..."""


class ParameterConflictError(TunelabError, ValueError):
    """A trial asked for the same parameter twice with two different distributions."""


class StorageError(TunelabError):
    """The storage URL is malformed, the database cannot be opened, or its schema is unknown."""


class DuplicatedStudyError(StorageError):
    """A study with that name already exists in the storage."""


class StudyNotFoundError(StorageError, KeyError):
    """No study with that name exists in the storage.

    A KeyError too, as Optuna raises one: scripts load a study and create it on KeyError.
    """

    __str__ = Exception.__str__  # the message itself, not KeyError's quoted repr of it


class TrialFinishedError(TunelabError, RuntimeError):
    """A finished trial is immutable: it cannot be reported to, told again or changed."""


class ConfigError(TunelabError, ValueError):
    """A study file or an option given to create_study is invalid.

    ``field`` names the option at fault inside a larger spec (``"name"`` or ``"seed"`` of a
    sampler, say) so that a study file can point at the exact line.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MissingExtraError(TunelabError, ImportError):
    """An optional dependency is needed for this feature."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the Python package '{package}', which is not installed. "
            f"Install it with: pip install 'tunelab[{extra}]'"
        )


class NothingToPlotError(TunelabError, ValueError):
    """A figure has no trial (or no telemetry) to draw; the message says how to get some."""


class TrialPruned(Exception):
    """Raised by an objective to stop the current trial early (the trial becomes PRUNED)."""


class ExperimentalWarning(Warning):
    """Optuna's warning about experimental features. tunelab gives none; it exists so that
    a script's ``warnings.filterwarnings(..., category=ExperimentalWarning)`` runs."""


# Optuna's names ----------------------------------------------------------------------------------
OptunaError = TunelabError
StorageInternalError = StorageError
UpdateFinishedTrialError = TrialFinishedError
CLIUsageError = ConfigError
