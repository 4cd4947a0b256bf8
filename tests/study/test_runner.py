"""TrialRunner: the one way trials run, here, in worker processes and on Dask."""

from __future__ import annotations

import pytest

import tunelab
from tests.study.objectives import returns_x
from tunelab.study import TrialRunner
from tunelab.trial import TrialState


def raises(error):
    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        raise error

    return objective


def test_run_one_completes_a_trial_with_what_the_objective_returns():
    study = tunelab.create_study(sampler="random", seed=0)
    record = TrialRunner(study, returns_x).run_one()
    assert record.state is TrialState.COMPLETE and record.value == record.params["x"]


@pytest.mark.parametrize(
    ("error", "state", "reason"),
    [
        (ValueError("no"), TrialState.FAIL, "ValueError: no"),
        (tunelab.TrialPruned("too slow"), TrialState.PRUNED, "too slow"),
    ],
)
def test_an_error_it_catches_ends_only_its_trial(error, state, reason):
    study = tunelab.create_study(sampler="random", seed=0)
    record = TrialRunner(study, raises(error)).run_one()
    assert (record.state, record.fail_reason) == (state, reason)
    assert "x" in record.params  # written with the final state


def test_an_error_it_does_not_catch_fails_the_trial_and_goes_up():
    study = tunelab.create_study(sampler="random", seed=0)
    runner = TrialRunner(study, raises(KeyboardInterrupt("by SIGTERM")), catch=(ValueError,))
    with pytest.raises(KeyboardInterrupt):
        runner.run_one()
    (record,) = study.trials
    assert (record.state, record.fail_reason) == (TrialState.FAIL, "interrupted by SIGTERM")


class Population:
    """A stand-in for a training task that trains its trials together: it finishes them in
    reverse order, the second with an error it was given."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def fit_group(self, trials, finish):
        for trial in trials:
            trial.suggest_float("x", 0.0, 1.0)
        for index, trial in reversed(list(enumerate(trials))):
            finish(trial, self.error if index == 1 else float(index))


def test_a_population_is_told_member_by_member_as_each_finishes():
    study = tunelab.create_study(sampler="random", seed=0)
    finished = []
    TrialRunner(study, Population(ValueError("diverged"))).run_population(3, finished.append)
    assert [r.number for r in finished] == [2, 1, 0]
    assert [r.state for r in study.trials] == [
        TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE
    ]
    assert study.trials[1].fail_reason == "ValueError: diverged"


def test_an_uncaught_error_of_one_member_goes_up_after_every_member_is_told():
    study = tunelab.create_study(sampler="random", seed=0)
    runner = TrialRunner(study, Population(MemoryError("out of memory")), catch=(ValueError,))
    with pytest.raises(MemoryError):
        runner.run_population(3, lambda record: None)
    assert all(r.state.is_finished() for r in study.trials)


def test_a_population_whose_training_breaks_fails_the_members_still_running():
    class Broken:
        def fit_group(self, trials, finish):
            finish(trials[0], 0.5)
            raise RuntimeError("device lost")

    study = tunelab.create_study(sampler="random", seed=0)
    with pytest.raises(RuntimeError):
        TrialRunner(study, Broken()).run_population(3, lambda record: None)
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] + [TrialState.FAIL] * 2
    assert study.trials[2].fail_reason == "RuntimeError: device lost"
