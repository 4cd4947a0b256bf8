"""Population-based training (Jaderberg, Dalibard, Osindero, Czarnecki, Donahue, Razavi, Vinyals,
Green, Dunning, Simonyan, Fernando & Kavukcuoglu, "Population Based Training of Neural
Networks", 2017).

A population of ``population_size`` members trains side by side. Every ``interval`` steps a
member pauses (its trial ends PRUNED, leaving a checkpoint) and the study's next trial carries it
on: a member among the worst ``quantile`` of those that reached the same step *exploits* one of
the best ``quantile`` (truncation selection: it continues from that member's checkpoint) and
*explores* (each explored hyperparameter is multiplied by one of ``perturbation_factors``, or
drawn afresh with ``resample_probability``); any other member continues its own training
unchanged. A member's last interval ends at ``max_resource`` and COMPLETEs with its value.

So each interval of each member is one trial, and a member is the chain of trials that carry
one another on: the first ``population_size`` trials of the study (drawn by its sampler) found
the members. Every later trial's ``trial.resume`` names the trial it carries on
(``previous``) and the one whose checkpoint it loaded (``trial``), and its system attribute
``"pbt"`` holds its member and, after an exploit, the trial it copied and the hyperparameters
it changed (old and new values): the family tree can be drawn from these. The objective must
resume from ``trial.resume`` (the training engine does, with a checkpoint folder); run
``population_size * max_resource / interval`` trials (:attr:`PopulationBasedTraining.n_trials`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._attrs import PBT_ATTR
from tunelab._options import check_int, check_number, check_probability
from tunelab.exceptions import ConfigError
from tunelab.pruners.base import BasePruner, Continuation, continued_trials, last_report
from tunelab.samplers._options import check_seed
from tunelab.space import CategoricalDistribution, Distribution, IntDistribution
from tunelab.trial import Resume, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

_WHERE = "PBT"


class PopulationBasedTraining(BasePruner):
    """Population-based training as a pruner that pauses members and hands out their next
    interval.

    Args:
        max_resource: the step (epoch) at which a member has trained fully.
        population_size: the number of members, trained in parallel when the study runs
            several trials at once.
        interval: steps between two exploit/explore decisions.
        quantile: the fraction of members that exploit (the worst) and that are copied (the
            best).
        perturbation_factors: an explored number is multiplied by one of these (clipped to its
            range; integers rounded).
        resample_probability: the chance that an explored hyperparameter is drawn afresh from
            its distribution instead (categorical ones are only ever redrawn).
        explore: the parameters that may change between intervals; default every float
            parameter (architecture choices must stay, since the weights carry over).
        seed: seeds the choice of the member to copy and the perturbations.
    """

    def __init__(
        self,
        max_resource: int,
        population_size: int = 8,
        interval: int = 2,
        quantile: float = 0.25,
        perturbation_factors: Sequence[float] = (0.8, 1.2),
        resample_probability: float = 0.25,
        explore: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> None:
        self.max_resource = check_int(
            _WHERE, "max_resource", max_resource, 1, "the number of epochs a member trains."
        )
        self.population_size = check_int(
            _WHERE, "population_size", population_size, 2, "e.g. 8 members."
        )
        self.interval = check_int(
            _WHERE, "interval", interval, 1, "the epochs between two exploit steps, e.g. 2."
        )
        if self.interval >= self.max_resource:
            raise ConfigError(
                f"{_WHERE}: interval={interval} must be below max_resource={max_resource}, or "
                "no member ever exploits another; e.g. interval: 2 for 20 epochs.",
                field="interval",
            )
        self.quantile = check_number(
            _WHERE, "quantile", quantile, 0.0, 0.5, "0.25 copies the best quarter to the worst."
        )
        self.perturbation_factors = _check_factors(perturbation_factors)
        self.resample_probability = check_probability(
            _WHERE, "resample_probability", resample_probability, "e.g. 0.25."
        )
        self.explore = None if explore is None else _check_names(explore)
        self.seed = check_seed(seed)

    @property
    def n_trials(self) -> int:
        """Trials that train the whole population to ``max_resource``."""
        return self.population_size * math.ceil(self.max_resource / self.interval)

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        step, value = last_report(trial)
        if math.isnan(value):
            return True  # a diverged member stops for good (it is never carried on)
        return step % self.interval == 0 and step < self.max_resource

    @property
    def resumes_paused(self) -> bool:
        return True

    def next_trial(self, study: Study) -> Continuation | None:
        records = study.storage.get_trials(study.study_id)
        founders = [r.number for r in records if Resume.of(r) is None]
        if len(founders) < self.population_size:
            return None  # the sampler draws the next founding member
        carried_on = continued_trials(records)
        paused = [
            r for r in records
            if r.state is TrialState.PRUNED and r.number not in carried_on and _is_pause(r)
        ]
        if not paused:
            return None
        # The member furthest behind goes first, so that members meet at the same steps.
        ready = min(paused, key=lambda r: (r.last_step, r.number))
        return self._carry_on(study, records, ready, founders)

    def _carry_on(
        self, study: Study, records: list[TrialRecord], ready: TrialRecord, founders: list[int]
    ) -> Continuation:
        step = ready.last_step
        assert step is not None
        peers = sorted(
            (r for r in records
             if r.state is TrialState.PRUNED and r.last_step == step and _is_pause(r)),
            key=lambda r: (_score(study, r), r.number),
        )
        n_cut = math.floor(len(peers) * self.quantile)
        lineage: dict[str, Any] = {"member": _member(ready, founders)}
        if n_cut == 0 or ready.number not in {r.number for r in peers[-n_cut:]}:
            return Continuation(ready, step, dict(ready.params), {PBT_ATTR: lineage})
        rng = np.random.default_rng([self.seed, ready.number])
        source = peers[int(rng.integers(n_cut))]
        params, changed = self._explore(rng, source)
        lineage.update(copied_from=source.number, changed=changed)
        return Continuation(source, step, params, {PBT_ATTR: lineage}, previous=ready)

    def _explore(
        self, rng: np.random.Generator, source: TrialRecord
    ) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        params = dict(source.params)
        changed: dict[str, list[Any]] = {}
        for name, distribution in source.distributions.items():
            if not self._explores(name, distribution):
                continue
            new = self._perturb(rng, distribution, params[name])
            if new != params[name]:
                changed[name] = [params[name], new]
                params[name] = new
        return params, changed

    def _explores(self, name: str, distribution: Distribution) -> bool:
        if distribution.is_single:
            return False
        if self.explore is not None:
            return name in self.explore
        return not isinstance(distribution, (IntDistribution, CategoricalDistribution))

    def _perturb(self, rng: np.random.Generator, distribution: Distribution, value: Any) -> Any:
        if isinstance(distribution, CategoricalDistribution) or (
            rng.random() < self.resample_probability
        ):
            return distribution.from_unit(float(rng.random()))
        factor = self.perturbation_factors[int(rng.integers(len(self.perturbation_factors)))]
        low, high = distribution.low, distribution.high
        # from_unit(to_unit(.)) puts the value on the distribution's grid (ints, steps).
        return distribution.from_unit(distribution.to_unit(min(max(value * factor, low), high)))


def _is_pause(record: TrialRecord) -> bool:
    """Whether the stopped ``record`` paused at an interval (not for a NaN)."""
    step = record.last_step
    return step is not None and not math.isnan(record.intermediate_values[step])


def _score(study: Study, record: TrialRecord) -> float:
    """Lower is better."""
    assert record.last_step is not None
    value = record.intermediate_values[record.last_step]
    return -value if study.direction == "maximize" else value


def _member(record: TrialRecord, founders: list[int]) -> int:
    lineage = record.system_attrs.get(PBT_ATTR)
    return lineage["member"] if lineage is not None else founders.index(record.number)


def _check_factors(factors: Any) -> tuple[float, ...]:
    ok = isinstance(factors, (list, tuple)) and len(factors) > 0 and all(
        not isinstance(f, bool) and isinstance(f, (int, float)) and f > 0 for f in factors
    )
    if not ok:
        raise ConfigError(
            f"{_WHERE}: perturbation_factors={factors!r} must be a non-empty list of positive "
            "numbers, e.g. [0.8, 1.2].",
            field="perturbation_factors",
        )
    return tuple(float(f) for f in factors)


def _check_names(names: Any) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"{_WHERE}: explore={names!r} must be a list of parameter names, e.g. [lr, momentum].",
            field="explore",
        )
    return tuple(names)
