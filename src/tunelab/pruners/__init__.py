"""Early-stopping rules, one file each. ``make_pruner`` builds one from a name and options.

Each rule's module is imported when a study first uses it (or when its class is imported from
here), as the samplers are. Optuna's ``PatientPruner`` is here under its name, beside
tunelab's ``PatiencePruner``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunelab.pruners.base import BasePruner
from tunelab.registry import build, class_loader

if TYPE_CHECKING:
    from tunelab.pruners.asha import SuccessiveHalvingPruner
    from tunelab.pruners.hyperband import HyperbandPruner
    from tunelab.pruners.median import MedianPruner
    from tunelab.pruners.nop import NopPruner
    from tunelab.pruners.patience import PatiencePruner, PatientPruner
    from tunelab.pruners.pbt import PopulationBasedTraining
    from tunelab.pruners.percentile import PercentilePruner
    from tunelab.pruners.threshold import ThresholdPruner
    from tunelab.pruners.wilcoxon import WilcoxonPruner

PRUNERS: dict[str, str] = {
    "none": "tunelab.pruners.nop:NopPruner",
    "median": "tunelab.pruners.median:MedianPruner",
    "percentile": "tunelab.pruners.percentile:PercentilePruner",
    "patience": "tunelab.pruners.patience:PatiencePruner",
    "threshold": "tunelab.pruners.threshold:ThresholdPruner",
    "asha": "tunelab.pruners.asha:SuccessiveHalvingPruner",
    "hyperband": "tunelab.pruners.hyperband:HyperbandPruner",
    "pbt": "tunelab.pruners.pbt:PopulationBasedTraining",
    "wilcoxon": "tunelab.pruners.wilcoxon:WilcoxonPruner",
}
"""Each built-in name and where its class lives, as ``"module:Class"``."""


def make_pruner(
    spec: str | Mapping[str, Any] | BasePruner | None, seed: int | None = None
) -> BasePruner:
    """A pruner from a name (``"median"``), ``{"name": "median", ...}``, a class path of the
    user's (``"my_package.pruners:MyPruner"``, a :class:`BasePruner`) or an instance.

    ``seed`` (the study's) seeds a pruner that draws random numbers (PBT) unless its own
    options name one.
    """
    spec = "none" if spec is None else spec
    return build("pruner", spec, PRUNERS, BasePruner, defaults={"seed": seed})


def pruner_name(pruner: BasePruner) -> str:
    """The name :func:`make_pruner` knows ``pruner``'s rule by (``"median"``, ``"none"``), or
    ``"module:Class"`` for a rule of the user's."""
    path = f"{type(pruner).__module__}:{type(pruner).__qualname__}"
    return next((name for name, where in PRUNERS.items() if where == path), path)


_OPTUNA_CLASSES = ("tunelab.pruners.patience:PatientPruner",)  # Optuna's rule and arguments

__getattr__ = class_loader({**PRUNERS, **{path: path for path in _OPTUNA_CLASSES}}, __name__)

__all__ = [
    "PRUNERS",
    "BasePruner",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatiencePruner",
    "PatientPruner",
    "PercentilePruner",
    "PopulationBasedTraining",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
    "WilcoxonPruner",
    "make_pruner",
    "pruner_name",
]
