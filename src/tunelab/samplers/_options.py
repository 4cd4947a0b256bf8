"""The seed option of the samplers, checked like the options of :mod:`tunelab._options`."""

from __future__ import annotations

from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.samplers.base import resolve_seed


def check_seed(seed: Any) -> int:
    """``resolve_seed`` with the option named, for study files."""
    try:
        return resolve_seed(seed)
    except ConfigError as error:
        raise ConfigError(str(error), field="seed") from None
