"""Search algorithms, one file each. ``make_sampler`` builds one from a name and options.

Each algorithm's module is imported when a study first uses it (or when its class is imported
from here), so that ``import tunelab`` does not pay for SciPy and the other algorithms. The
classes also answer to Optuna's names (``NSGAIISampler``, ``NSGAIIISampler``), and ``nsgaii``
holds NSGA-II's operators as Optuna names them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunelab.registry import build, class_loader
from tunelab.samplers.base import BaseSampler

if TYPE_CHECKING:
    from tunelab.samplers.annealing import SimulatedAnnealingSampler
    from tunelab.samplers.auto import AutoSampler
    from tunelab.samplers.bohb import BOHBSampler
    from tunelab.samplers.bruteforce import BruteForceSampler
    from tunelab.samplers.cma import CmaEsSampler
    from tunelab.samplers.genetic import GeneticSampler
    from tunelab.samplers.gp import GPSampler
    from tunelab.samplers.grid import GridSampler
    from tunelab.samplers.nsga2 import NSGA2Sampler, NSGAIISampler
    from tunelab.samplers.nsga3 import NSGA3Sampler, NSGAIIISampler
    from tunelab.samplers.partial_fixed import PartialFixedSampler
    from tunelab.samplers.pso import ParticleSwarmSampler
    from tunelab.samplers.qmc import QMCSampler
    from tunelab.samplers.random import RandomSampler
    from tunelab.samplers.reinforce import ReinforceSampler
    from tunelab.samplers.tabu import TabuSearchSampler
    from tunelab.samplers.tpe import TPESampler

SAMPLERS: dict[str, str] = {
    "random": "tunelab.samplers.random:RandomSampler",
    "grid": "tunelab.samplers.grid:GridSampler",
    "qmc": "tunelab.samplers.qmc:QMCSampler",
    "quasi-random": "tunelab.samplers.qmc:QMCSampler",
    "sobol": "tunelab.samplers.qmc:sobol",
    "halton": "tunelab.samplers.qmc:halton",
    "tpe": "tunelab.samplers.tpe:TPESampler",
    "annealing": "tunelab.samplers.annealing:SimulatedAnnealingSampler",
    "tabu": "tunelab.samplers.tabu:TabuSearchSampler",
    "genetic": "tunelab.samplers.genetic:GeneticSampler",
    "pso": "tunelab.samplers.pso:ParticleSwarmSampler",
    "nsga2": "tunelab.samplers.nsga2:NSGA2Sampler",
    "nsga3": "tunelab.samplers.nsga3:NSGA3Sampler",
    "auto": "tunelab.samplers.auto:AutoSampler",
    "cmaes": "tunelab.samplers.cma:CmaEsSampler",
    "reinforce": "tunelab.samplers.reinforce:ReinforceSampler",
    "gp": "tunelab.samplers.gp:GPSampler",
    "bohb": "tunelab.samplers.bohb:BOHBSampler",
    "bruteforce": "tunelab.samplers.bruteforce:BruteForceSampler",
}
"""Each built-in name and where its class (or preset of one) lives, as ``"module:Class"``."""

_OPTUNA_CLASSES = (
    "tunelab.samplers.nsga2:NSGAIISampler",  # Optuna's name of NSGA2Sampler
    "tunelab.samplers.nsga3:NSGAIIISampler",  # Optuna's name of NSGA3Sampler
    "tunelab.samplers.partial_fixed:PartialFixedSampler",
)
"""Classes reached as attributes by Optuna's names, with no study-file name of their own."""
_SUBMODULES = ("nsgaii",)

DEFAULT_SAMPLER = "auto"


def make_sampler(
    spec: str | Mapping[str, Any] | BaseSampler | None, seed: int | None = None
) -> BaseSampler:
    """A sampler from a name (``"random"``), ``{"name": "qmc", "seed": 1}``, a class path of
    the user's (``"my_package.samplers:MySampler"``, a :class:`BaseSampler`) or an instance.

    ``seed`` seeds a sampler built here unless its options give their own.
    """
    spec = DEFAULT_SAMPLER if spec is None else spec
    return build("sampler", spec, SAMPLERS, BaseSampler, defaults={"seed": seed})


_load_class = class_loader(
    {**SAMPLERS, **{path: path for path in _OPTUNA_CLASSES}}, __name__
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    return _load_class(name)


__all__ = [
    "SAMPLERS",
    "AutoSampler",
    "BOHBSampler",
    "BaseSampler",
    "BruteForceSampler",
    "CmaEsSampler",
    "GPSampler",
    "GeneticSampler",
    "GridSampler",
    "NSGA2Sampler",
    "NSGA3Sampler",
    "NSGAIIISampler",
    "NSGAIISampler",
    "PartialFixedSampler",
    "ParticleSwarmSampler",
    "QMCSampler",
    "RandomSampler",
    "ReinforceSampler",
    "SimulatedAnnealingSampler",
    "TPESampler",
    "TabuSearchSampler",
    "make_sampler",
    "nsgaii",
]
