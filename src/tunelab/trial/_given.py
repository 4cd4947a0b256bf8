"""Suggestions answered from values given in advance: a :class:`FixedTrial`'s parameters, or
those a stored trial ran with (``objective(study.best_trial)``).

The objective's ranges may differ from those the values were chosen in (a script re-run with
a wider range still finds its old values), so only a change of kind is an error: float against
int, linear against log scale, other categorical choices. A value outside the new range is
returned with a warning, since it is the value that was evaluated.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from tunelab.exceptions import ConfigError, ParameterConflictError
from tunelab.space import CategoricalDistribution, Distribution, IntDistribution


def given_value(
    params: Mapping[str, Any],
    known: Mapping[str, Distribution],
    name: str,
    distribution: Distribution,
    owner: str,
) -> Any:
    """``params[name]`` for a suggestion of ``distribution``, checked against ``known[name]``
    (the distribution it was suggested with before); ``owner`` names the trial in errors."""
    if name not in params:
        raise ConfigError(
            f"{owner} has no value for parameter {name!r} (it has {sorted(params)}); it can "
            "only answer the suggestions it holds a value for. Give it a value for "
            f"{name!r}, or run it with the objective whose parameters it holds.",
            field=name,
        )
    if name in known:
        _check_same_kind(known[name], distribution, name, owner)
    value = params[name]
    if not distribution.contains(value):
        warnings.warn(
            f"{owner}: the value {value!r} of parameter {name!r} is outside {distribution}; "
            "it is returned as given.",
            stacklevel=4,
        )
    return int(value) if isinstance(distribution, IntDistribution) else value


def _check_same_kind(old: Distribution, new: Distribution, name: str, owner: str) -> None:
    if _kind(old) != _kind(new):
        raise ParameterConflictError(
            f"{owner}: parameter {name!r} was suggested as {old} and is now asked for as "
            f"{new}; its kind, its log scale and a categorical's choices must stay the same. "
            "Suggest it as before, or under another name."
        )


def _kind(distribution: Distribution) -> tuple[Any, ...]:
    """What two suggestions of one parameter must agree on."""
    if isinstance(distribution, CategoricalDistribution):
        return (CategoricalDistribution, distribution.choices)
    return (type(distribution), distribution.log)
