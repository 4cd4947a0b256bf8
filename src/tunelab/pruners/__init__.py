"""Early-stopping rules, one file each. ``make_pruner`` builds one from a name and options."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tunelab.pruners.asha import SuccessiveHalvingPruner
from tunelab.pruners.base import BasePruner
from tunelab.pruners.hyperband import HyperbandPruner
from tunelab.pruners.median import MedianPruner
from tunelab.pruners.nop import NopPruner
from tunelab.pruners.patience import PatiencePruner
from tunelab.pruners.pbt import PopulationBasedTraining
from tunelab.pruners.percentile import PercentilePruner
from tunelab.pruners.threshold import ThresholdPruner
from tunelab.registry import build

PRUNERS: dict[str, Callable[..., BasePruner]] = {
    "none": NopPruner,
    "median": MedianPruner,
    "percentile": PercentilePruner,
    "patience": PatiencePruner,
    "threshold": ThresholdPruner,
    "asha": SuccessiveHalvingPruner,
    "hyperband": HyperbandPruner,
    "pbt": PopulationBasedTraining,
}


def make_pruner(
    spec: str | Mapping[str, Any] | BasePruner | None, seed: int | None = None
) -> BasePruner:
    """A pruner from a name (``"median"``), ``{"name": "median", ...}`` or an instance.

    ``seed`` (the study's) seeds a pruner that draws random numbers (PBT) unless its own
    options name one.
    """
    spec = "none" if spec is None else spec
    return build("pruner", spec, PRUNERS, BasePruner, defaults={"seed": seed})


__all__ = [
    "PRUNERS",
    "BasePruner",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatiencePruner",
    "PercentilePruner",
    "PopulationBasedTraining",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
    "make_pruner",
]
