"""What every sampler promises, as a pytest class to subclass.

Subclass :class:`SamplerContract` in a test module and give it a ``sampler_factory`` fixture:
a callable that takes a seed and returns a new sampler with that seed::

    import pytest

    from tunelab.testing import SamplerContract
    from mypackage import MySampler


    class TestMySampler(SamplerContract):
        @pytest.fixture
        def sampler_factory(self):
            return lambda seed: MySampler(seed=seed)

pytest then runs every check below on ``MySampler``. A sampler whose trials do not depend on
its seed (a grid visited in order) also overrides the ``seed_changes_trials`` fixture to
return False. A sampler that models one objective either samples a multi-objective study
some other way or refuses it with a :class:`~tunelab.exceptions.ConfigError` naming
``directions`` before any trial starts (raised from ``is_exhausted``, which ``optimize``
calls first).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.samplers import BaseSampler
from tunelab.testing.objectives import (
    assert_valid_every_kind_trials,
    bowl_2d,
    every_kind,
    every_kind_pair,
    params_of,
    run_study,
)

N_TRIALS = 20
"""Long enough for a model-based or population sampler to leave its random start-up."""
BATCH_SIZE = 8


def _assert_batch_of_distinct_trials(
    study: tunelab.Study, objective: Callable[[tunelab.Trial], Any]
) -> None:
    """In a study of :func:`every_kind`'s space, ``ask(BATCH_SIZE)`` starts that many trials,
    whose parameters all differ and lie in their distributions once they are told."""
    batch = study.ask(BATCH_SIZE)
    numbers = [trial.number for trial in batch]
    running = study.get_trials([tunelab.TrialState.RUNNING])
    assert [record.number for record in running] == numbers
    for trial in batch:
        study.tell(trial, objective(trial))
    # JSON tells True from 1, which a set of the values themselves would not.
    told = [json.dumps(dict(r.params), sort_keys=True) for r in study.trials[-BATCH_SIZE:]]
    assert len(set(told)) == BATCH_SIZE, told
    assert_valid_every_kind_trials(study)


class SamplerContract:
    """The checks every sampler passes; see the module docstring for how to run them."""

    @pytest.fixture
    def sampler_factory(self) -> Callable[[int], BaseSampler]:
        """A callable that takes a seed and returns a new sampler: override it."""
        pytest.fail(
            f"{type(self).__name__} gives no sampler: define a fixture sampler_factory that "
            "returns a callable taking a seed, e.g. `return lambda seed: MySampler(seed=seed)`."
        )

    @pytest.fixture
    def seed_changes_trials(self) -> bool:
        """Whether two seeds give two different searches: override it with False for a
        sampler that ignores its seed."""
        return True

    def test_the_same_seed_gives_the_same_trials_and_another_seed_other_ones(
        self, sampler_factory: Callable[[int], BaseSampler], seed_changes_trials: bool
    ) -> None:
        first, again, other = (
            params_of(run_study(every_kind, sampler_factory(seed), N_TRIALS)) for seed in (3, 3, 4)
        )
        assert first == again
        assert (other != first) == seed_changes_trials

    def test_every_kind_of_parameter_lies_in_its_distribution_with_its_type(
        self, sampler_factory: Callable[[int], BaseSampler]
    ) -> None:
        assert_valid_every_kind_trials(run_study(every_kind, sampler_factory(3), N_TRIALS))

    def test_ask_n_starts_n_trials_with_distinct_parameters(
        self, sampler_factory: Callable[[int], BaseSampler]
    ) -> None:
        study = run_study(every_kind, sampler_factory(3), N_TRIALS)
        _assert_batch_of_distinct_trials(study, every_kind)

    def test_maximizing_f_follows_the_same_search_as_minimizing_minus_f(
        self, sampler_factory: Callable[[int], BaseSampler]
    ) -> None:
        minimized = run_study(bowl_2d, sampler_factory(7), 30)
        maximized = run_study(lambda t: -bowl_2d(t), sampler_factory(7), 30, direction="maximize")
        assert params_of(maximized) == params_of(minimized)
        assert maximized.best_value == -minimized.best_value

    def test_a_multi_objective_study_is_searched_or_refused_naming_directions(
        self, sampler_factory: Callable[[int], BaseSampler]
    ) -> None:
        both = ["minimize", "minimize"]
        study = tunelab.create_study(sampler=sampler_factory(3), directions=both)
        with warnings.catch_warnings():
            # A sampler may warn that it samples such a study at random: that is allowed.
            warnings.simplefilter("ignore", UserWarning)
            try:
                study.optimize(every_kind_pair, n_trials=N_TRIALS, catch=())
            except ConfigError as refusal:
                assert refusal.field == "directions", refusal
                assert study.trials == []
                return
            again = run_study(every_kind_pair, sampler_factory(3), N_TRIALS, directions=both)
            assert params_of(again) == params_of(study)
            assert_valid_every_kind_trials(study)
            _assert_batch_of_distinct_trials(study, every_kind_pair)
