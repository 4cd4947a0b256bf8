"""The variation operators of NSGA-II (:mod:`tunelab.samplers.nsga2`), as objects under the
names Optuna gives them, so that ``NSGAIISampler(crossover=nsgaii.SBXCrossover(eta=15))`` picks
tunelab's own operator.

Each object only names an operator and its settings; :class:`~tunelab.samplers.nsga2.NSGA2Sampler`
runs it. Uniform and simulated binary crossover (Deb & Agrawal 1995) and bounded polynomial
mutation are what NSGA-II runs here; other crossovers are not offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tunelab._options import check_number, check_probability

_WHERE = "NSGA-II"


@dataclass(frozen=True)
class UniformCrossover:
    """Each parameter of a child comes from the second parent with probability
    ``swapping_prob``, otherwise from the first."""

    swapping_prob: float = 0.5

    def __post_init__(self) -> None:
        check_probability(
            _WHERE, "swapping_prob", self.swapping_prob, "give a probability in [0, 1]."
        )


@dataclass(frozen=True)
class SBXCrossover:
    """Simulated binary crossover of the numeric parameters, with distribution index ``eta``
    (larger keeps children nearer their parents; None for NSGA-II's default of 15)."""

    eta: float | None = None

    def __post_init__(self) -> None:
        if self.eta is not None:
            check_number(
                _WHERE, "eta", self.eta, 0.0, math.inf,
                "give a non-negative distribution index such as 15, or None.", low_open=False,
            )


@dataclass(frozen=True)
class PolynomialMutation:
    """Bounded polynomial mutation with distribution index ``eta`` (larger means smaller
    steps)."""

    eta: float = 20.0

    def __post_init__(self) -> None:
        check_number(
            _WHERE, "eta", self.eta, 0.0, math.inf,
            "give a non-negative distribution index such as 2.", low_open=False,
        )


__all__ = ["PolynomialMutation", "SBXCrossover", "UniformCrossover"]
