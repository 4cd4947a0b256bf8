"""Axes for hyperparameters: which parameters a figure shows and how each one is scaled.

A log-scaled parameter gets a log axis and a categorical one gets one evenly spaced position
per choice, labelled with the choice, whatever figure draws it (slice, contour, parallel
coordinates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean
from tunelab.space import CategoricalDistribution, JsonScalar, value_key
from tunelab.trial import TrialRecord


@dataclass(frozen=True)
class ParamAxis:
    """How one parameter is placed on an axis: numbers as they are (on a log scale when
    ``log``), or the index of the value among ``categories`` for a categorical parameter."""

    name: str
    log: bool = False
    categories: tuple[JsonScalar, ...] | None = None

    def coordinate(self, value: Any) -> float:
        if self.categories is None:
            return float(value)
        keys = [value_key(choice) for choice in self.categories]
        return float(keys.index(value_key(value)))

    @property
    def labels(self) -> list[str]:
        return [str(choice) for choice in self.categories or ()]

    def layout(self) -> dict[str, Any]:
        """Keyword arguments for plotly's ``update_xaxes`` / ``update_yaxes``."""
        if self.categories is not None:
            return {"tickvals": list(range(len(self.categories))), "ticktext": self.labels}
        return {"type": "log"} if self.log else {}


def param_axes(
    records: Sequence[TrialRecord], params: Sequence[str] | None, figure: str
) -> list[ParamAxis]:
    """An axis per parameter in ``params`` (every parameter of ``records`` if None, sorted by
    name); a ConfigError naming ``params`` for a name no trial among ``records`` has."""
    present = sorted({name for record in records for name in record.params})
    if params is None:
        return [_axis(name, records) for name in present]
    if isinstance(params, str) or not params:
        raise ConfigError(
            f"{figure}: params={params!r} must be a non-empty list of parameter names, "
            f"e.g. params={present[:2]!r}.",
            field="params",
        )
    for name in params:
        if name not in present:
            raise ConfigError(
                f"{figure}: params names {name!r}, which no COMPLETE trial has"
                f"{did_you_mean(str(name), present)}; choose among {present}.",
                field="params",
            )
    return [_axis(name, records) for name in dict.fromkeys(params)]


def _axis(name: str, records: Sequence[TrialRecord]) -> ParamAxis:
    distributions = [r.distributions[name] for r in records if name in r.distributions]
    log = any(getattr(d, "log", False) for d in distributions)
    categorical = [d for d in distributions if isinstance(d, CategoricalDistribution)]
    if not categorical:
        return ParamAxis(name, log=log)
    # Trials may declare different choices (or even a number range) for the same name; the
    # axis lists every declared choice, then any value seen that none of them declares.
    categories: dict[Any, JsonScalar] = {}
    for distribution in categorical:
        categories.update((value_key(c), c) for c in distribution.choices)
    for record in records:
        if name in record.params:
            categories.setdefault(value_key(record.params[name]), record.params[name])
    return ParamAxis(name, categories=tuple(categories.values()))
