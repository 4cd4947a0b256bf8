"""A trial with parameters given in advance, for running an objective without a study: to test
it, or to train a final model with the parameters a study found."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from tunelab.constraints import ConstraintsSet
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
    JsonScalar,
)
from tunelab.trial._base import BaseTrial
from tunelab.trial._given import given_value


class FixedTrial(BaseTrial):
    """Answers each ``suggest_*`` with ``params[name]``; ``report`` is ignored and
    ``should_prune`` is False, so the objective runs to the end.

    ``params`` and ``distributions`` hold what the objective suggested, ``user_attrs`` and
    ``constraints`` what it set. A parameter missing from ``params`` is a
    :class:`~tunelab.exceptions.ConfigError`.
    """

    def __init__(self, params: Mapping[str, Any], number: int = 0) -> None:
        self._given_params = dict(params)
        self._number = number
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, Distribution] = {}
        self._user_attrs: dict[str, Any] = {}
        self._constraints = ConstraintsSet(number)
        self._datetime_start = datetime.now(timezone.utc)

    @property
    def number(self) -> int:
        return self._number

    @property
    def params(self) -> dict[str, Any]:
        """The parameters suggested so far, with their given values."""
        return self._params

    @property
    def distributions(self) -> dict[str, Distribution]:
        return self._distributions

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self._user_attrs

    @property
    def datetime_start(self) -> datetime:
        """When the FixedTrial was made."""
        return self._datetime_start

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        value: float = self._suggest(name, FloatDistribution(low, high, log=log, step=step))
        return value

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        value: int = self._suggest(name, IntDistribution(low, high, log=log, step=step))
        return value

    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        return self._suggest(name, CategoricalDistribution(tuple(choices)))

    def _suggest(self, name: str, distribution: Distribution) -> Any:
        value = given_value(
            self._given_params, self._distributions, name, distribution, "FixedTrial"
        )
        self._params[name] = value
        self._distributions[name] = distribution
        return value

    def report(self, value: float, step: int) -> None:
        """Ignored: there is no study to compare the value with."""

    def should_prune(self) -> bool:
        """False: there is no pruner without a study."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        self._user_attrs[key] = value

    def set_constraints(self, values: Sequence[float]) -> None:
        self._constraints.set_list(values)

    def set_constraint(self, name: str, value: float) -> None:
        self._constraints.set_named(name, value)

    @property
    def constraints(self) -> dict[str, float]:
        return self._constraints.as_dict()

    def __repr__(self) -> str:
        return f"FixedTrial(number={self._number}, params={self._given_params!r})"
