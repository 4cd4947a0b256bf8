"""Options the samplers share, checked like the options of :mod:`tunelab._options`: the seed,
a sampler given as an option, a constraints function, and the options an Optuna script passes
that a tunelab algorithm has no use for."""

from __future__ import annotations

import warnings
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.samplers.base import BaseSampler, resolve_seed


def check_seed(seed: Any) -> int:
    """``resolve_seed`` with the option named, for study files."""
    try:
        return resolve_seed(seed)
    except ConfigError as error:
        raise ConfigError(str(error), field="seed") from None


def check_sampler_option(where: str, field: str, value: Any) -> BaseSampler | None:
    """A sampler instance (or None); a ConfigError naming ``field`` if not."""
    if value is not None and not isinstance(value, BaseSampler):
        raise ConfigError(
            f"{where}: {field}={value!r} must be a sampler (e.g. RandomSampler(seed=0)) or None.",
            field=field,
        )
    return value


def check_constraints_func(where: str, value: Any) -> Any:
    """A callable (or None); a ConfigError naming ``constraints_func`` if not."""
    if value is not None and not callable(value):
        raise ConfigError(
            f"{where}: constraints_func={value!r} must be a function of a trial record "
            "returning a sequence of floats (<= 0 when satisfied), or None.",
            field="constraints_func",
        )
    return value


def check_optional_flag(where: str, field: str, value: Any) -> bool | None:
    """True, False or None (Optuna's "use the default"); a ConfigError naming ``field`` if not."""
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{where}: {field}={value!r} must be true, false or None.", field=field)
    return value


def warn_ignored(where: str, field: str, value: Any, why: str) -> None:
    """Say once, as the sampler is built, that ``field=value`` (an option of Optuna's sampler)
    changes nothing here, and why the results are still of the same kind.

    Called from an option check of the constructor: the warning points at the line that built
    the sampler (past the check, the constructor and the wrapper that records its call).
    """
    warnings.warn(f"{where}: {field}={value!r} is ignored; {why}", UserWarning, stacklevel=5)
