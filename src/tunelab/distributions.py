"""The names of ``optuna.distributions`` over tunelab's own distributions.

:class:`FloatDistribution`, :class:`IntDistribution` and :class:`CategoricalDistribution` are
tunelab's (:mod:`tunelab.space`), built with Optuna's keywords (``low``, ``high``, ``log``,
``step``; ``choices``). Two differences: a range that is not a whole number of steps is an
error here, where Optuna lowers ``high`` with a warning, since a silently changed range is a
different search; and there are only these three kinds, since every sampler handles all three
and no other.

The JSON functions write Optuna's form (``{"name": ..., "attributes": ...}``), which Optuna
reads, and read both it and tunelab's own form (``{"type": "float", ...}``).
"""

from __future__ import annotations

import abc
import json
import warnings

from tunelab.exceptions import ParameterConflictError, SearchSpaceError
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
    JsonScalar,
    distribution_from_json,
    to_named_json,
)

__all__ = [
    "BaseDistribution",
    "CategoricalChoiceType",
    "CategoricalDistribution",
    "DiscreteUniformDistribution",
    "FloatDistribution",
    "IntDistribution",
    "IntLogUniformDistribution",
    "IntUniformDistribution",
    "LogUniformDistribution",
    "UniformDistribution",
    "check_distribution_compatibility",
    "distribution_to_json",
    "json_to_distribution",
]

CategoricalChoiceType = JsonScalar


class BaseDistribution(abc.ABC):
    """What every distribution is an instance of (``isinstance(d, BaseDistribution)``).

    The three kinds register with it rather than derive from it: they are plain frozen
    dataclasses, and no sampler would know what to do with a fourth kind derived from here.
    What they share is below.
    """

    @abc.abstractmethod
    def contains(self, value: object) -> bool:
        """Whether ``value`` is one this distribution can take."""

    @abc.abstractmethod
    def to_json(self) -> dict[str, object]:
        """tunelab's JSON form of the distribution."""


for _kind in (FloatDistribution, IntDistribution, CategoricalDistribution):
    BaseDistribution.register(_kind)


def distribution_to_json(dist: Distribution) -> str:
    """``dist`` as a JSON string in Optuna's form, e.g. ``{"name": "IntDistribution",
    "attributes": {"low": 1, "high": 8, "log": false, "step": 1}}``."""
    return json.dumps(to_named_json(dist))


def json_to_distribution(json_str: str) -> Distribution:
    """The distribution a JSON string describes, in Optuna's form or in tunelab's."""
    try:
        data = json.loads(json_str)
    except (TypeError, json.JSONDecodeError) as error:
        raise SearchSpaceError(
            f"json_to_distribution: {json_str!r} is not JSON ({error}); pass the string that "
            "distribution_to_json returned."
        ) from None
    if not isinstance(data, dict):
        raise SearchSpaceError(
            f"json_to_distribution: {json_str!r} is not a JSON object; a distribution is "
            'written as {"name": "FloatDistribution", "attributes": {...}}.'
        )
    return distribution_from_json(data)


def check_distribution_compatibility(dist_old: Distribution, dist_new: Distribution) -> None:
    """Raise :class:`~tunelab.exceptions.ParameterConflictError` (a ValueError) when one
    parameter name cannot hold both distributions: different kinds, a log scale in one only,
    or different choices. Ranges and steps may differ."""
    if type(dist_old) is not type(dist_new):
        raise ParameterConflictError(
            f"a parameter cannot be a {type(dist_old).__name__} and then a "
            f"{type(dist_new).__name__}; give the second one another name."
        )
    if getattr(dist_old, "log", False) != getattr(dist_new, "log", False):
        raise ParameterConflictError(
            f"a parameter cannot be on a log scale in {dist_old} and not in {dist_new}; use the "
            "same log= for both, or another name."
        )
    if isinstance(dist_old, CategoricalDistribution) and dist_old != dist_new:
        raise ParameterConflictError(
            f"a categorical parameter keeps its choices: {dist_old} and {dist_new} differ; list "
            "the same choices, or use another name."
        )


# Optuna 5 still accepts the names it deprecated in 3.0; each builds today's distribution.


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated; use {new} instead.", FutureWarning, stacklevel=3)


def UniformDistribution(low: float, high: float) -> FloatDistribution:
    """``FloatDistribution(low, high)``."""
    _deprecated("UniformDistribution", "FloatDistribution(low, high)")
    return FloatDistribution(low, high)


def LogUniformDistribution(low: float, high: float) -> FloatDistribution:
    """``FloatDistribution(low, high, log=True)``."""
    _deprecated("LogUniformDistribution", "FloatDistribution(low, high, log=True)")
    return FloatDistribution(low, high, log=True)


def DiscreteUniformDistribution(low: float, high: float, q: float) -> FloatDistribution:
    """``FloatDistribution(low, high, step=q)``."""
    _deprecated("DiscreteUniformDistribution", "FloatDistribution(low, high, step=q)")
    return FloatDistribution(low, high, step=q)


def IntUniformDistribution(low: int, high: int, step: int = 1) -> IntDistribution:
    """``IntDistribution(low, high, step=step)``."""
    _deprecated("IntUniformDistribution", "IntDistribution(low, high, step=step)")
    return IntDistribution(low, high, step=step)


def IntLogUniformDistribution(low: int, high: int, step: int = 1) -> IntDistribution:
    """``IntDistribution(low, high, log=True)``."""
    _deprecated("IntLogUniformDistribution", "IntDistribution(low, high, log=True)")
    return IntDistribution(low, high, log=True, step=step)

