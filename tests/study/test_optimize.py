"""optimize: the budget, callbacks, stop, what an objective returns or raises, the progress bar."""

from __future__ import annotations

import gc
import itertools
import re
import threading
from types import SimpleNamespace

import numpy as np
import pytest

import tunelab
from tests.study.objectives import returns_x, states
from tunelab.exceptions import (
    ConfigError,
    TrialPruned,
)
from tunelab.study.optimize import batches
from tunelab.study.runner import population_sizes
from tunelab.trial import TrialState

# Optimize --------------------------------------------------------------------------------


def test_optimize_runs_n_trials(make_study):
    study = make_study()
    study.optimize(returns_x, n_trials=5)
    assert [r.number for r in study.trials] == [0, 1, 2, 3, 4]
    assert states(study) == [TrialState.COMPLETE] * 5
    assert all(r.value == r.params["x"] for r in study.trials)


# n_jobs on a study in memory: threads of this process ------------------------------------


def test_n_jobs_on_a_study_in_memory_runs_its_trials_in_threads_at_once():
    both_running = threading.Barrier(2, timeout=30)  # passes only when two trials overlap
    threads = set()

    def objective(trial):
        threads.add(threading.current_thread().name)
        if trial.number < 2:
            both_running.wait()
        return trial.suggest_float("x", 0.0, 1.0)

    seen = []
    study = tunelab.create_study(sampler="tpe", seed=0)
    study.optimize(objective, n_trials=12, n_jobs=2, callbacks=[lambda s, r: seen.append(r)])
    assert sorted(r.number for r in study.trials) == list(range(12))
    assert states(study) == [TrialState.COMPLETE] * 12
    assert sorted(r.number for r in seen) == list(range(12))
    assert len(threads) == 2 and threading.current_thread().name not in threads


def test_an_uncaught_error_in_a_thread_stops_the_others_and_is_raised():
    def objective(trial):
        if trial.number == 3:
            raise KeyError("broken")
        return trial.suggest_float("x", 0.0, 1.0)

    study = tunelab.create_study(sampler="random", seed=0)
    with pytest.raises(KeyError, match="broken"):
        study.optimize(objective, n_trials=50, n_jobs=3, catch=())
    by_number = {r.number: r for r in study.trials}
    assert by_number[3].state is TrialState.FAIL
    assert len(by_number) < 50
    assert TrialState.RUNNING not in states(study)


def test_stop_from_a_callback_stops_every_thread():
    study = tunelab.create_study(sampler="random", seed=0)
    study.optimize(
        returns_x, n_trials=100, n_jobs=3, callbacks=[lambda s, r: r.number >= 4 and s.stop()]
    )
    assert 5 <= len(study.trials) < 100
    assert TrialState.RUNNING not in states(study)


def test_gc_after_trial_collects_after_each_trial(make_study, monkeypatch):
    collected = []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(1) or 0)
    make_study().optimize(returns_x, n_trials=3, gc_after_trial=True)
    assert len(collected) == 3


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"n_trials": -1}, "n_trials=-1 must be a non-negative integer"),
        ({"n_trials": 2.5}, "n_trials=2.5"),
        ({"n_trials": True}, "n_trials=True"),
        ({"timeout": 0}, "timeout=0 must be a positive number"),
        ({"timeout": -1.0}, "timeout=-1.0"),
    ],
)
def test_invalid_budget_raises_config_error(budget, message):
    with pytest.raises(ConfigError, match=message):
        tunelab.create_study().optimize(returns_x, **budget)


def test_optimize_with_zero_trials_runs_nothing():
    study = tunelab.create_study()
    study.optimize(returns_x, n_trials=0)
    assert study.trials == []


def test_timeout_stops_starting_trials_once_it_has_passed(monkeypatch):
    clock = [0.0]  # the run's clock, which only the objective moves
    monkeypatch.setattr("tunelab.study.optimize.time", SimpleNamespace(monotonic=lambda: clock[0]))

    def takes_a_twentieth_of_a_second(trial):
        clock[0] += 0.05
        return 0.0

    study = tunelab.create_study()
    study.optimize(takes_a_twentieth_of_a_second, timeout=0.15)
    assert len(study.trials) == 3  # started at 0, 0.05 and 0.10; none at 0.15


def test_callbacks_are_called_with_each_finished_record(make_study):
    seen = []

    def objective(trial):
        if trial.number == 1:
            raise TrialPruned()
        return float(trial.number)

    study = make_study()
    study.optimize(objective, n_trials=3, callbacks=[lambda s, r: seen.append((s, r))])
    assert [s for s, _ in seen] == [study] * 3
    assert [(r.number, r.state) for _, r in seen] == [
        (0, TrialState.COMPLETE),
        (1, TrialState.PRUNED),
        (2, TrialState.COMPLETE),
    ]


def test_stop_from_a_callback_stops_optimize_and_the_next_call_runs_again(make_study):
    def stop_at_three(study, record):
        if record.number == 2:
            study.stop()

    study = make_study()
    study.optimize(returns_x, n_trials=100, callbacks=[stop_at_three])
    assert len(study.trials) == 3
    study.optimize(returns_x, n_trials=2)
    assert len(study.trials) == 5


def _raise(error):
    raise error


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        pytest.param(lambda: _raise(ValueError("boom")), "ValueError: boom", id="raises"),
        pytest.param(
            lambda: float("nan"), "returned nan; it must return a finite number", id="nan"
        ),
        pytest.param(
            lambda: float("inf"), "returned inf; it must return a finite number", id="inf"
        ),
        pytest.param(
            lambda: "0.5", r"returned '0.5' \(str\); it must return a number", id="string"
        ),
        pytest.param(lambda: None, r"returned None \(NoneType\)", id="none"),
        pytest.param(lambda: True, r"returned True \(bool\)", id="bool"),
        pytest.param(
            lambda: [1.0, 2.0],
            r"returned 2 value\(s\) but the study has 1 objective",
            id="too-many",
        ),
        pytest.param(lambda: np.array([1.0]), r"\(ndarray\)", id="array"),
    ],
)
def test_bad_objective_outcome_fails_the_trial_and_the_study_goes_on(make_study, outcome, reason):
    def objective(trial):
        return outcome() if trial.number == 1 else 1.0

    study = make_study()
    study.optimize(objective, n_trials=3)
    assert states(study) == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    failed = study.trials[1]
    assert failed.values is None
    assert failed.fail_reason is not None
    assert re.search(reason, failed.fail_reason), failed.fail_reason


def test_wrong_number_of_values_in_a_multi_objective_study_fails(make_study):
    study = make_study(directions=["minimize", "maximize"])
    study.optimize(lambda t: 1.0, n_trials=1)
    assert study.trials[0].state is TrialState.FAIL
    assert "returned 1 value(s) but the study has 2 objective(s)" in study.trials[0].fail_reason


@pytest.mark.parametrize("value", [np.float64(0.25), np.float32(0.25), np.int64(3), 7])
def test_numpy_and_int_results_are_stored_as_floats(make_study, value):
    study = make_study()
    study.optimize(lambda t: value, n_trials=1)
    record = study.trials[0]
    assert record.state is TrialState.COMPLETE
    assert record.value == float(value) and type(record.value) is float


def test_catch_nothing_reraises_after_marking_the_trial_failed(make_study):
    study = make_study()
    with pytest.raises(ValueError, match="boom"):
        study.optimize(lambda t: _raise(ValueError("boom")), n_trials=5, catch=())
    assert states(study) == [TrialState.FAIL]
    assert study.trials[0].fail_reason == "ValueError: boom"


@pytest.mark.parametrize("catch", [ValueError, [ValueError], (KeyError, ValueError)])
def test_catch_takes_one_exception_class_or_several(make_study, catch):
    def objective(trial):
        raise ValueError("bad")

    study = make_study()
    study.optimize(objective, n_trials=2, catch=catch)
    assert states(study) == [TrialState.FAIL] * 2


@pytest.mark.parametrize("catch", ["ValueError", [ValueError, 3], 3])
def test_catch_that_is_not_exception_classes_is_refused(make_study, catch):
    with pytest.raises(ConfigError, match="give the exception classes") as caught:
        make_study().optimize(returns_x, n_trials=1, catch=catch)
    assert caught.value.field == "catch"


def test_exception_outside_catch_reraises(make_study):
    study = make_study()
    with pytest.raises(KeyError):
        study.optimize(lambda t: _raise(KeyError("k")), n_trials=5, catch=(ValueError,))
    assert states(study) == [TrialState.FAIL]


def test_keyboard_interrupt_fails_the_trial_keeps_the_others_and_numbering_continues(make_study):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 2:
            raise KeyboardInterrupt
        return x

    study = make_study()
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10)
    assert states(study) == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert "interrupted" in study.trials[2].fail_reason
    assert "x" in study.trials[2].params
    study.optimize(returns_x, n_trials=2)
    assert [r.number for r in study.trials] == [0, 1, 2, 3, 4]
    assert states(study)[3:] == [TrialState.COMPLETE] * 2


def test_trial_pruned_marks_the_trial_pruned(make_study):
    def objective(trial):
        trial.report(1.0, step=0)
        raise TrialPruned()

    study = make_study()
    study.optimize(objective, n_trials=2)
    assert states(study) == [TrialState.PRUNED] * 2
    assert study.trials[0].values is None and study.trials[0].fail_reason is None
    assert dict(study.trials[0].intermediate_values) == {0: 1.0}




def test_show_progress_bar_runs(make_study):
    pytest.importorskip("rich")
    study = make_study()
    study.optimize(returns_x, n_trials=3, show_progress_bar=True)
    assert len(study.trials) == 3


def test_the_budget_is_handed_out_in_batches_of_at_most_the_asked_size():
    study = tunelab.create_study(sampler="random")
    assert list(batches(study, 10, None, itertools.repeat(4))) == [4, 4, 2]
    assert list(batches(study, 40, None, population_sizes(16))) == [4, 8, 16, 12]
    assert list(batches(study, 0, None, itertools.repeat(4))) == []


def test_fused_populations_start_small_and_double_up_to_fuse():
    assert list(itertools.islice(population_sizes(32), 6)) == [4, 8, 16, 32, 32, 32]
    assert list(itertools.islice(population_sizes(6), 3)) == [4, 6, 6]
    assert list(itertools.islice(population_sizes(2), 2)) == [2, 2]


def test_optimize_checks_the_devices():
    with pytest.raises(ConfigError, match="'gpu' is not a device; use cpu, mps, cuda or cuda:N"):
        tunelab.create_study().optimize(returns_x, n_trials=1, devices=["gpu"])
