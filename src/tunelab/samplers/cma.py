"""CMA-ES, the covariance matrix adaptation evolution strategy (Hansen & Ostermeier,
"Completely Derandomized Self-Adaptation in Evolution Strategies", Evolutionary Computation
9(2), 2001; Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772, 2016), with
the IPOP restart strategy (Auger & Hansen, CEC 2005) and, for integer and other discrete
parameters, CMA-ES with margin (Hamano, Saito, Nomura & Shirakawa, "CMA-ES with Margin:
Lower-Bounding Marginal Probability for Mixed-Integer Black-Box Optimization", GECCO 2022).

The optimizer itself comes from the optional ``cmaes`` package (``pip install 'tunelab[cmaes]'``),
imported only when a :class:`CmaEsSampler` is built.

The search runs in the unit cube ``[0, 1]^d`` of the joint space (the parameters every completed
trial used; see :mod:`tunelab.samplers._neighbourhood`), so that log ranges are searched in log
space and ``sigma0`` is a fraction of every parameter's range. How each kind of parameter is
handled:

* a float without step, and an int on a log scale: a continuous axis of ``[0, 1]``;
* an int, or a float with a step, of ``n`` values: with ``with_margin=True`` a discrete axis
  whose values are the centres ``(i + 0.5) / n`` of the ``n`` bins of the unit mapping, which
  CMA-ES with margin keeps from collapsing onto one value; with ``with_margin=False`` a
  continuous axis read through the bins;
* a categorical of ``n`` choices: the same as a discrete axis, its choices taken as the values
  ``0 .. n-1`` in the order they were declared. That order means nothing to the objective, so
  CMA-ES treats categoricals as an (arbitrary) ordinal; it works for a few choices, but a
  space made mostly of unordered categoricals is better served by TPE or the genetic sampler.

The optimizer is not kept as the truth: it is rebuilt from the study's finished trials, so that
a resumed study and every process sharing the study see the same search. The first
``n_startup_trials`` trials are random; the optimizer then starts from ``x0`` if given, else
from the best of them (the centre of the cube if there are none). From trial number
``n_startup_trials`` on, the trials are cut into generations of ``population_size`` consecutive
numbers. A generation is told to the optimizer once all its trials are finished, in number
order: a trial that evaluated the point the optimizer proposed is told that point; one that
evaluated another point (an enqueued trial, say) is told the point it evaluated; a failed or
pruned trial is told the worst value seen so far, so that the generation still completes. The
state after the last told generation is cached, so a serial run only tells each generation once.
``study.ask(population_size)`` at a generation's start returns the whole generation, the same
points that ``optimize`` would propose one at a time. Trials asked beyond the generation in
progress (before it is told) are drawn from the current search distribution with a generator
seeded by their number.

With ``restart="ipop"``, when the optimizer reports that it should stop (the distribution
has collapsed or the values no longer change), it restarts from a random mean with the
population multiplied by ``inc_popsize``. Every optimizer's seed is derived from the sampler's
seed and the restart index, so a seeded run is reproducible. Single objective only.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_choice, check_flag, check_int, check_number
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.samplers._neighbourhood import JointSampler, Key, point_key, point_of, study_key
from tunelab.samplers._options import warn_ignored
from tunelab.samplers._population import UnitSpace
from tunelab.samplers.base import BaseSampler, trial_rng
from tunelab.space import CategoricalDistribution, Distribution, FloatDistribution, IntDistribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_WHERE = "CMA-ES"
RESTARTS = ("ipop",)
_STREAM = "<cma-es>"


def _import_cmaes() -> Any:
    """The ``cmaes`` module, or a MissingExtraError that says how to install it."""
    try:
        import cmaes
    except ImportError:
        raise MissingExtraError("cmaes", "cmaes", "the CMA-ES sampler") from None
    return cmaes


def _derived_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed for numpy that depends only on ``seed`` and ``keys``."""
    entropy = [int(seed) % (1 << 63)] + [int(k) % (1 << 63) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _n_values(distribution: Distribution) -> int:
    """How many values a discrete axis has (0 for a continuous one)."""
    if isinstance(distribution, CategoricalDistribution):
        return len(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return (distribution.high - distribution.low) // distribution.step + 1
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        return int(round((distribution.high - distribution.low) / distribution.step)) + 1
    return 0


class _Optimizer:
    """A ``cmaes`` optimizer over the unit cube: plain CMA, or CMA with margin when discrete
    axes are present; ``ask`` gives (point to evaluate, point to tell)."""

    def __init__(
        self,
        cmaes: Any,
        space: dict[str, Distribution],
        mean: np.ndarray,
        sigma: float,
        population_size: int | None,
        seed: int,
        with_margin: bool,
    ) -> None:
        n_values = [_n_values(d) for d in space.values()]
        self.discrete = with_margin and any(n >= 2 for n in n_values)
        dim = len(n_values)
        if self.discrete:
            bounds = np.tile([0.0, 1.0], (dim, 1))
            steps = np.zeros(dim)
            for i, n in enumerate(n_values):
                if n >= 2:
                    bounds[i] = (0.5 / n, 1.0 - 0.5 / n)
                    steps[i] = 1.0 / n
            self.impl = cmaes.CMAwM(
                mean=mean, sigma=sigma, bounds=bounds, steps=steps, seed=seed,
                population_size=population_size,
            )
        else:
            self.impl = cmaes.CMA(
                mean=mean, sigma=sigma, bounds=np.tile([0.0, 1.0], (dim, 1)), seed=seed,
                population_size=population_size,
            )

    @property
    def population_size(self) -> int:
        return int(self.impl.population_size)

    def ask(self) -> tuple[np.ndarray, np.ndarray]:
        if self.discrete:
            evaluated, told = self.impl.ask()
            return evaluated, told
        x = self.impl.ask()
        return x, x

    def tell(self, solutions: list[tuple[np.ndarray, float]]) -> None:
        self.impl.tell(solutions)

    def should_stop(self) -> bool:
        return bool(self.impl.should_stop())

    def sample(self, seed: int) -> np.ndarray:
        """A point to evaluate from the current distribution, without touching its state."""
        clone = copy.deepcopy(self.impl)
        clone.reseed_rng(seed)
        x = clone.ask()
        point: np.ndarray = x[0] if self.discrete else x
        return point


def _one_of(value: Any, optuna_value: Any, name: str, optuna_name: str) -> Any:
    """The option given under tunelab's name or under Optuna's (not both, unless equal)."""
    if optuna_value is None:
        return value
    if value is not None and value != optuna_value:
        raise ConfigError(
            f"{_WHERE}: {name}={value!r} and {optuna_name}={optuna_value!r} name the same "
            "option; give one of them.",
            field=optuna_name,
        )
    return optuna_value


def _check_restart(restart: Any, restart_strategy: Any) -> str | None:
    """The restart strategy, given under tunelab's name or Optuna's."""
    if restart_strategy is not None:
        restart_strategy = check_choice(
            _WHERE, "restart_strategy", restart_strategy, (*RESTARTS, "bipop")
        )
        if restart_strategy == "bipop":
            warn_ignored(
                _WHERE, "restart_strategy", "bipop",
                "tunelab restarts with restart_strategy='ipop' only; the search runs without "
                "restarts, as Optuna's own has since 4.4.",
            )
            restart_strategy = None
    restart = _one_of(restart, restart_strategy, "restart", "restart_strategy")
    return None if restart is None else check_choice(_WHERE, "restart", restart, RESTARTS)


def _check_x0(x0: Any) -> dict[str, Any] | None:
    if x0 is None:
        return None
    if not isinstance(x0, Mapping) or not all(isinstance(name, str) for name in x0):
        raise ConfigError(
            f"{_WHERE}: x0={x0!r} must map parameter names to the values the search starts "
            "from, e.g. {'lr': 0.01, 'layers': 3}.",
            field="x0",
        )
    return dict(x0)


def _x0_mean(x0: dict[str, Any], space: dict[str, Distribution]) -> np.ndarray:
    """``x0`` in the unit cube; a parameter it leaves out starts at the centre of its range."""
    mean = np.full(len(space), 0.5)
    for i, (name, distribution) in enumerate(space.items()):
        if name not in x0:
            continue
        if not distribution.contains(x0[name]):
            raise ConfigError(
                f"{_WHERE}: x0[{name!r}]={x0[name]!r} is outside {distribution}, the range the "
                "objective declares; start from a value inside it.",
                field="x0",
            )
        mean[i] = distribution.to_unit(x0[name])
    return mean


def _warn_unused_variants(
    consider_pruned_trials: Any, use_separable_cma: Any, lr_adapt: Any, source_trials: Any
) -> None:
    """Optuna's variants of CMA-ES that this sampler does not run."""
    same_kind = "the search is still CMA-ES, of the same kind."
    if check_flag(_WHERE, "consider_pruned_trials", consider_pruned_trials):
        warn_ignored(
            _WHERE, "consider_pruned_trials", True,
            f"a pruned trial is told the worst value seen so far; {same_kind}",
        )
    if check_flag(_WHERE, "use_separable_cma", use_separable_cma):
        warn_ignored(
            _WHERE, "use_separable_cma", True,
            f"the full covariance matrix is adapted; {same_kind}",
        )
    if check_flag(_WHERE, "lr_adapt", lr_adapt):
        warn_ignored(_WHERE, "lr_adapt", True, f"the learning rate is fixed; {same_kind}")
    if source_trials is not None:
        warn_ignored(
            _WHERE, "source_trials", f"<{len(source_trials)} trials>",
            f"the search starts from x0 or the best start-up trial; {same_kind}",
        )


@dataclass
class _Proposal:
    params: dict[str, Any]
    told: np.ndarray  # the point to tell if the trial evaluated ``params``
    key: Key = field(default=())


@dataclass
class CmaState:
    """The search as the finished trials give it: the optimizer, the generation in progress
    (its first trial number and its proposals) and the restarts so far."""

    optimizer: _Optimizer
    restart: int
    start: int  # number of the first trial of the generation in progress
    proposals: list[_Proposal]
    worst: float | None  # worst loss of a completed trial told so far
    generations: int = 0  # generations told (over all restarts)

    @property
    def population_size(self) -> int:
        return self.optimizer.population_size


class CmaEsSampler(JointSampler):
    """CMA-ES over the unit cube of the joint space, with optional IPOP restarts.

    Args:
        seed: makes the search reproducible; None draws one.
        sigma0: the initial step size, as a fraction of each parameter's (unit-mapped) range
            (None: 0.2).
        population_size: trials per generation; None uses the ``cmaes`` default
            ``4 + floor(3 ln d)`` for ``d`` parameters. ``popsize`` is Optuna's name for it.
        n_startup_trials: random trials before the search; it starts from the best of them.
        restart: None, or ``"ipop"`` to restart with a larger population when the search
            stalls. ``restart_strategy`` is Optuna's name for it.
        inc_popsize: factor by which each IPOP restart multiplies the population (Optuna's
            -1: the default, 2).
        with_margin: search int, stepped float and categorical parameters as discrete axes
            with CMA-ES with margin; False treats them as continuous axes read through bins.
        x0: ``{name: value}``, where the search starts (parameters it leaves out start at the
            centre of their range); it replaces the best start-up trial.
        independent_sampler: draws the start-up trials and the parameters outside the joint
            space; None draws them at random.

    Optuna's ``restart_strategy="bipop"``, ``consider_pruned_trials``, ``use_separable_cma``,
    ``lr_adapt`` and ``source_trials`` are accepted and ignored with a warning: the search is
    still CMA-ES, of the same kind. ``warn_independent_sampling`` only governs a log message of
    Optuna's, which tunelab does not write.
    """

    display_name = _WHERE

    def __init__(
        self,
        seed: int | None = None,
        sigma0: float | None = 0.2,
        population_size: int | None = None,
        n_startup_trials: int = 0,
        restart: str | None = None,
        inc_popsize: int = 2,
        with_margin: bool = True,
        x0: Mapping[str, Any] | None = None,
        popsize: int | None = None,
        restart_strategy: str | None = None,
        independent_sampler: BaseSampler | None = None,
        warn_independent_sampling: bool = True,
        consider_pruned_trials: bool = False,
        use_separable_cma: bool = False,
        lr_adapt: bool = False,
        source_trials: Sequence[TrialRecord] | None = None,
    ) -> None:
        super().__init__(seed, independent_sampler)
        self.sigma0 = check_number(
            _WHERE, "sigma0", 0.2 if sigma0 is None else sigma0, 0.0, 1.0,
            "it is the initial step size as a fraction of each parameter's range.",
        )
        population_size = _one_of(population_size, popsize, "population_size", "popsize")
        if population_size is not None:
            population_size = check_int(
                _WHERE, "population_size", population_size, 2,
                "it is the number of trials in one generation (None for the default).",
            )
        self.population_size = population_size
        self.n_startup_trials = check_int(
            _WHERE, "n_startup_trials", n_startup_trials, 0,
            "they are random trials, and the search starts from the best of them.",
        )
        self.restart = _check_restart(restart, restart_strategy)
        self.inc_popsize = check_int(
            _WHERE, "inc_popsize", 2 if inc_popsize == -1 else inc_popsize, 2,
            "each IPOP restart multiplies the population by it.",
        )
        self.with_margin = check_flag(_WHERE, "with_margin", with_margin)
        self.x0 = _check_x0(x0)
        check_flag(_WHERE, "warn_independent_sampling", warn_independent_sampling)
        _warn_unused_variants(consider_pruned_trials, use_separable_cma, lr_adapt, source_trials)
        self._cmaes = _import_cmaes()
        self._cache_key: tuple[Any, ...] | None = None
        self._cache: CmaState | None = None

    # The replay ----------------------------------------------------------------------------

    def search_state(self, study: Study) -> CmaState | None:
        """The search as the study's finished trials give it now (None during the start-up).

        The object is the cached state: read it, do not change it.
        """
        space = self.infer_relative_search_space(study)
        return self._replay(study, space, study.storage.get_trials(study.study_id))

    def _replay(
        self, study: Study, space: dict[str, Distribution], records: list[TrialRecord]
    ) -> CmaState | None:
        if not space:
            return None
        sign = -1.0 if study.directions[0] == "maximize" else 1.0
        key = (study_key(study), sign, tuple(space.items()))
        if key != self._cache_key:
            self._cache_key, self._cache = key, None
        by_number = {record.number: record for record in records}
        state = self._cache
        if state is None:
            state = self._begin(space, sign, by_number)
            if state is None:
                return None
        while True:
            numbers = range(state.start, state.start + state.population_size)
            generation = [by_number.get(n) for n in numbers]
            if any(r is None or not r.state.is_finished() for r in generation):
                break
            self._tell(state, space, sign, generation)  # type: ignore[arg-type]
        self._cache = state
        return state

    def _begin(
        self, space: dict[str, Distribution], sign: float, by_number: dict[int, TrialRecord]
    ) -> CmaState | None:
        """The state before the first generation, once the start-up trials are finished."""
        startup = [by_number.get(n) for n in range(self.n_startup_trials)]
        if any(r is None or not r.state.is_finished() for r in startup):
            return None
        unit = UnitSpace(space)
        mean, best, worst = np.full(len(space), 0.5), math.inf, None
        for record in startup:
            loss = self._loss(record, space, sign)  # type: ignore[arg-type]
            if loss is None:
                continue
            worst = loss if worst is None else max(worst, loss)
            if loss < best:
                best = loss
                mean = unit.encode(point_of(record, space))  # type: ignore[arg-type]
        if self.x0 is not None:
            mean = _x0_mean(self.x0, space)
        optimizer = self._optimizer(space, mean, 0)
        state = CmaState(optimizer, 0, self.n_startup_trials, [], worst)
        state.proposals = self._generation(state, unit)
        return state

    def _optimizer(
        self, space: dict[str, Distribution], mean: np.ndarray, restart: int
    ) -> _Optimizer:
        size = self.population_size
        if restart and size is None:
            size = 4 + math.floor(3 * math.log(len(space)))
        if size is not None:
            size *= self.inc_popsize**restart
        return _Optimizer(
            self._cmaes, space, mean, self.sigma0, size,
            _derived_seed(self.seed, restart), self.with_margin,
        )

    def _generation(self, state: CmaState, unit: UnitSpace) -> list[_Proposal]:
        """The proposals of the generation in progress: one ask per member, moved aside when a
        discrete space makes two members decode to the same point."""
        proposals: list[_Proposal] = []
        blocked: set[Key] = set()
        for member in range(state.population_size):
            evaluated, told = state.optimizer.ask()
            u = np.clip(evaluated, 0.0, 1.0)
            params = unit.decode(u)
            key = point_key(params, unit.space)
            if key in blocked:
                rng = trial_rng(self.seed, state.start + member, _STREAM)
                u = unit.distinct(u, blocked, rng)
                params = unit.decode(u)
                told = u  # tell the point the trial evaluates
                key = point_key(params, unit.space)
            blocked.add(key)
            proposals.append(_Proposal(params, np.array(told, dtype=float), key))
        return proposals

    @staticmethod
    def _loss(record: TrialRecord, space: dict[str, Distribution], sign: float) -> float | None:
        if record.state is not TrialState.COMPLETE or not record.values:
            return None
        if point_of(record, space) is None or not math.isfinite(record.values[0]):
            return None
        return sign * float(record.values[0])

    def _tell(
        self,
        state: CmaState,
        space: dict[str, Distribution],
        sign: float,
        generation: list[TrialRecord],
    ) -> None:
        unit = UnitSpace(space)
        points, losses = [], []
        for record, proposal in zip(generation, state.proposals):
            params = point_of(record, space)
            if params is None or point_key(params, space) == proposal.key:
                points.append(proposal.told)
            else:
                points.append(unit.encode(params))
            loss = self._loss(record, space, sign)
            if loss is not None:
                state.worst = loss if state.worst is None else max(state.worst, loss)
            losses.append(loss)
        fill = state.worst if state.worst is not None else 0.0
        state.optimizer.tell(
            [(x, fill if loss is None else loss) for x, loss in zip(points, losses)]
        )
        state.start += len(generation)
        state.generations += 1
        if self.restart == "ipop" and state.optimizer.should_stop():
            state.restart += 1
            rng = np.random.RandomState(_derived_seed(self.seed, state.restart, 1))
            state.optimizer = self._optimizer(
                space, rng.uniform(0.0, 1.0, len(space)), state.restart
            )
        state.proposals = self._generation(state, unit)

    # The sampler ---------------------------------------------------------------------------

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        records = study.storage.get_trials(study.study_id)
        state = self._replay(study, search_space, records)
        if state is None:
            return [{} for _ in trials]  # start-up: every parameter from sample_independent
        unit = UnitSpace(search_space)
        key = study_key(study)
        batch = []
        for trial in trials:
            member = trial.number - state.start
            if trial.number < self.n_startup_trials:
                params: dict[str, Any] = {}
            elif 0 <= member < len(state.proposals):
                params = dict(state.proposals[member].params)
            else:
                # Beyond the generation in progress: a draw from the current distribution.
                x = state.optimizer.sample(_derived_seed(self.seed, trial.number, 2))
                params = unit.decode(np.clip(x, 0.0, 1.0))
            if params:
                self._proposed[(key, trial.number)] = params
            batch.append(params)
        return batch
