"""Search algorithms, one file each. ``make_sampler`` builds one from a name and options."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from tunelab.registry import build
from tunelab.samplers.annealing import SimulatedAnnealingSampler
from tunelab.samplers.auto import AutoSampler
from tunelab.samplers.base import BaseSampler
from tunelab.samplers.bohb import BOHBSampler
from tunelab.samplers.cma import CmaEsSampler
from tunelab.samplers.genetic import GeneticSampler
from tunelab.samplers.gp import GPSampler
from tunelab.samplers.grid import GridSampler
from tunelab.samplers.nsga2 import NSGA2Sampler
from tunelab.samplers.pso import ParticleSwarmSampler
from tunelab.samplers.qmc import QMCSampler
from tunelab.samplers.random import RandomSampler
from tunelab.samplers.reinforce import ReinforceSampler
from tunelab.samplers.tabu import TabuSearchSampler
from tunelab.samplers.tpe import TPESampler

SAMPLERS: dict[str, Callable[..., BaseSampler]] = {
    "random": RandomSampler,
    "grid": GridSampler,
    "qmc": QMCSampler,
    "quasi-random": QMCSampler,
    "sobol": partial(QMCSampler, qmc_type="sobol"),
    "halton": partial(QMCSampler, qmc_type="halton"),
    "tpe": TPESampler,
    "annealing": SimulatedAnnealingSampler,
    "tabu": TabuSearchSampler,
    "genetic": GeneticSampler,
    "pso": ParticleSwarmSampler,
    "nsga2": NSGA2Sampler,
    "auto": AutoSampler,
    "cmaes": CmaEsSampler,
    "reinforce": ReinforceSampler,
    "gp": GPSampler,
    "bohb": BOHBSampler,
}

DEFAULT_SAMPLER = "auto"


def make_sampler(
    spec: str | Mapping[str, Any] | BaseSampler | None, seed: int | None = None
) -> BaseSampler:
    """A sampler from a name (``"random"``), ``{"name": "qmc", "seed": 1}`` or an instance.

    ``seed`` seeds a sampler built here unless its options give their own.
    """
    spec = DEFAULT_SAMPLER if spec is None else spec
    return build("sampler", spec, SAMPLERS, BaseSampler, defaults={"seed": seed})


__all__ = [
    "SAMPLERS",
    "AutoSampler",
    "BOHBSampler",
    "BaseSampler",
    "CmaEsSampler",
    "GPSampler",
    "GeneticSampler",
    "GridSampler",
    "NSGA2Sampler",
    "ParticleSwarmSampler",
    "QMCSampler",
    "RandomSampler",
    "ReinforceSampler",
    "SimulatedAnnealingSampler",
    "TPESampler",
    "TabuSearchSampler",
    "make_sampler",
]
