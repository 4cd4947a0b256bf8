"""optimize(n_jobs=N): trials in worker processes on a shared storage, the budget exact,
callbacks in the parent, errors and stops carried back, devices handed out, Ctrl-C handled
without losing or leaving anything (workers that die: tests/reliability/test_workers.py)."""

from __future__ import annotations

import os

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.execution import WorkerError
from tunelab.execution.processes import worker_devices
from tunelab.trial import TrialState

from . import objectives
from .helpers import assert_interrupted_cleanly, interrupted_run


def test_workers_run_exactly_the_budget_and_the_parent_sees_every_trial(sqlite_url):
    study = tunelab.create_study(name="p", storage=sqlite_url, sampler={"name": "tpe", "seed": 0})
    seen = []
    study.optimize(objectives.slow_quadratic, n_trials=12, n_jobs=2,
                   callbacks=[lambda s, record: seen.append(record.number)])
    trials = study.trials
    assert [r.number for r in trials] == list(range(12))
    assert all(r.state is TrialState.COMPLETE for r in trials)
    assert sorted(seen) == list(range(12))
    pids = {r.user_attrs["pid"] for r in trials}
    # Worker processes, not the parent; how the trials fall between the two is the scheduler's
    # business (under load one may take them all).
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids


def test_devices_on_a_study_in_memory_are_refused_and_an_unpicklable_objective_runs_threads(
    sqlite_url,
):
    with pytest.raises(ConfigError, match="cannot see a storage in this process's memory") as c:
        tunelab.create_study().optimize(objectives.quadratic, n_trials=2, devices=["cpu"] * 2)
    assert c.value.field == "storage"
    study = tunelab.create_study(storage=sqlite_url)
    with pytest.warns(UserWarning, match="in threads: the objective .*cannot be pickled"):
        study.optimize(lambda trial: 0.0, n_trials=2, n_jobs=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5])
def test_a_bad_n_jobs_is_a_config_error(n_jobs):
    with pytest.raises(ConfigError, match="n_jobs"):
        tunelab.create_study().optimize(objectives.quadratic, n_trials=1, n_jobs=n_jobs)


def test_an_uncaught_error_in_a_worker_stops_the_study_and_is_raised_here(sqlite_url):
    study = tunelab.create_study(storage=sqlite_url)
    with pytest.raises(WorkerError, match="RuntimeError: disk on fire"):
        study.optimize(objectives.broken, n_trials=10, n_jobs=2, catch=())
    assert 1 <= len(study.trials) <= 2  # each worker stops at its first failure
    assert all(r.state is TrialState.FAIL for r in study.trials)


def test_study_stop_in_a_callback_stops_the_workers_after_their_trials(sqlite_url):
    study = tunelab.create_study(storage=sqlite_url)
    study.optimize(objectives.slow_quadratic, n_trials=100, n_jobs=2,
                   callbacks=[lambda s, r: s.stop() if len(s.trials) >= 4 else None])
    assert 4 <= len(study.trials) < 20
    assert all(r.state.is_finished() for r in study.trials)


def test_devices_go_round_the_workers():
    assert worker_devices(4, ["cuda:0", "cuda:1"]) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert worker_devices(1, ["cpu"]) == ["cpu"]
    assert worker_devices(2, None) == [None, None]


def test_each_worker_sees_only_its_device_and_auto_follows_it(sqlite_url):
    study = tunelab.create_study(storage=sqlite_url)
    study.optimize(objectives.where_am_i, n_trials=12, n_jobs=4, devices=["cuda:0", "cuda:1"])
    variables = ("CUDA_VISIBLE_DEVICES", "TUNELAB_DEVICE")
    seen = {(r.system_attrs["device"], *(r.user_attrs[v] for v in variables)) for r in study.trials}
    # Which workers take the trials is the scheduler's affair; each one's device is not.
    assert seen and seen <= {("cuda:0", "0", "cuda"), ("cuda:1", "1", "cuda")}
    cpu = tunelab.create_study(storage=sqlite_url)
    cpu.optimize(objectives.where_am_i, n_trials=4, devices=["cpu", "cpu"])  # one per device
    assert {r.user_attrs["TUNELAB_DEVICE"] for r in cpu.trials} == {"cpu"}
    assert {r.system_attrs["device"] for r in cpu.trials} == {"cpu"}


def test_ctrl_c_fails_the_running_trials_and_stops_every_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    out = interrupted_run(tmp_path, url, """
        try:
            study.optimize(objectives.slow_quadratic, n_trials=1000, n_jobs=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    assert "interrupted" in out
    assert_interrupted_cleanly(tunelab.load_study("c", url).trials)
