"""What every trial an objective can receive has in common: the live :class:`Trial`, the
:class:`FixedTrial` that tests an objective without a study, and the stored
:class:`TrialRecord` that re-runs a configuration (``objective(study.best_trial)``).

Objectives type-check against this class (``isinstance(trial, BaseTrial)``) so that one
function accepts all three.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Sequence
from typing import Any

from tunelab.space import CategoricalDistribution, Distribution, IntDistribution, JsonScalar


class BaseTrial(abc.ABC):
    """The define-by-run interface: ``suggest_*``, ``report``, ``should_prune`` and
    ``set_user_attr``.

    Every trial also has ``number``, ``params``, ``distributions``, ``user_attrs`` and
    ``datetime_start``. They are not declared here because the stored record holds them as
    plain fields, which a property of the same name here would hide.
    """

    @abc.abstractmethod
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in ``[low, high]``; ``log=True`` on a log scale, ``step`` on a grid."""

    @abc.abstractmethod
    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An integer in ``[low, high]`` on a grid of ``step``; ``log=True`` favours small
        values."""

    @abc.abstractmethod
    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        """One of ``choices`` (JSON scalars: None, bool, int, float, str)."""

    @abc.abstractmethod
    def report(self, value: float, step: int) -> None:
        """An intermediate value of the objective at ``step`` (an epoch, say)."""

    @abc.abstractmethod
    def should_prune(self) -> bool:
        """Whether the trial should stop now."""

    @abc.abstractmethod
    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a value to the trial under ``key``."""

    # Spellings older Optuna scripts still use; each is one case of suggest_float.

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        """Deprecated: ``suggest_float(name, low, high)``."""
        _warn_deprecated("suggest_uniform", "suggest_float(name, low, high)")
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        """Deprecated: ``suggest_float(name, low, high, log=True)``."""
        _warn_deprecated("suggest_loguniform", "suggest_float(name, low, high, log=True)")
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        """Deprecated: ``suggest_float(name, low, high, step=q)``."""
        _warn_deprecated("suggest_discrete_uniform", "suggest_float(name, low, high, step=q)")
        return self.suggest_float(name, low, high, step=q)


def suggest(trial: BaseTrial, name: str, distribution: Distribution) -> Any:
    """``trial``'s value of ``name`` from ``distribution``, through the ``suggest_*`` method of
    its kind: for code that holds a search space as distributions rather than calls."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, list(distribution.choices))
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    return trial.suggest_float(
        name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
    )


def _warn_deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated; use {new} instead.", FutureWarning, stacklevel=3)
