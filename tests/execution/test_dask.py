"""optimize(executor=client): trials as tasks on a Dask cluster (a LocalCluster of two worker
processes), with the guarantees of the worker processes: the budget exact, callbacks in the
caller, stops, timeouts and errors carried back, Ctrl-C and a killed worker handled without
losing or leaving anything; and the CLI's --dask."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone

import pytest

import tunelab
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.execution import WorkerError
from tunelab.execution import dask as tunelab_dask
from tunelab.trial import TrialState

from . import objectives
from .helpers import (
    KillOneRunningWorker,
    assert_failed_and_retried,
    assert_interrupted_cleanly,
    interrupted_run,
)

distributed = pytest.importorskip(
    "distributed",
    reason="dask[distributed] is not installed: pip install 'tunelab[distributed]' "
    "(make test installs it)",
)



@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, started once for the module (a few seconds)."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.fixture
def worker_pids(client):
    return set(client.run(os.getpid).values())


def test_two_workers_run_exactly_the_budget_and_the_caller_sees_every_trial(
    client, worker_pids, sqlite_url
):
    study = tunelab.create_study(name="d", storage=sqlite_url, sampler={"name": "tpe", "seed": 0})
    seen = []
    study.optimize(
        objectives.slow_quadratic, n_trials=12, executor=client, show_progress_bar=True,
        callbacks=[lambda s, record: seen.append((record.number, os.getpid()))],
    )
    trials = study.trials
    assert [r.number for r in trials] == list(range(12))
    assert all(r.state is TrialState.COMPLETE for r in trials)
    assert sorted(seen) == [(n, os.getpid()) for n in range(12)]  # callbacks ran here
    ran_on = {r.user_attrs["pid"] for r in trials}
    assert ran_on and ran_on <= worker_pids  # on the cluster's workers, never here
    assert len({r.system_attrs["dask_task"] for r in trials}) == 12  # a task per trial


def test_a_lambda_travels_but_a_memory_storage_or_an_uncopyable_closure_is_refused(
    client, sqlite_url
):
    study = tunelab.create_study(storage=sqlite_url)
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=2, executor=client)
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 2
    with pytest.raises(ConfigError, match="cannot see a storage in this process's memory") as c:
        tunelab.create_study().optimize(objectives.quadratic, n_trials=2, executor=client)
    assert c.value.field == "storage"
    lock = threading.Lock()
    other = tunelab.create_study(storage=sqlite_url)
    with pytest.raises(ConfigError, match="must be picklable.*cannot be copied") as caught:
        other.optimize(lambda trial: lock.locked(), n_trials=2, executor=client)
    assert caught.value.field == "objective"
    assert other.trials == []


@pytest.mark.parametrize(
    ("options", "field"),
    [({"n_jobs": 2}, "n_jobs"), ({"n_jobs": -1}, "n_jobs"), ({"devices": ["cpu"]}, "devices")],
)
def test_n_jobs_or_devices_with_an_executor_are_refused(client, sqlite_url, options, field):
    study = tunelab.create_study(storage=sqlite_url)
    with pytest.raises(ConfigError, match=field) as caught:
        study.optimize(objectives.quadratic, n_trials=2, executor=client, **options)
    assert caught.value.field == field
    assert study.trials == []


def test_an_executor_that_is_not_a_dask_client_is_refused(sqlite_url):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor() as pool, pytest.raises(ConfigError, match="Client") as caught:
        tunelab.create_study(storage=sqlite_url).optimize(
            objectives.quadratic, n_trials=1, executor=pool
        )
    assert caught.value.field == "executor"


def test_without_dask_installed_the_error_names_the_extra(monkeypatch, sqlite_url):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    with pytest.raises(MissingExtraError, match=r"tunelab\[distributed\]"):
        tunelab.create_study(storage=sqlite_url).optimize(
            objectives.quadratic, n_trials=1, executor=object()
        )


def test_an_uncaught_error_is_raised_here_as_a_worker_error_caused_by_the_trials_own(
    client, sqlite_url
):
    study = tunelab.create_study(storage=sqlite_url)
    with pytest.raises(WorkerError, match="RuntimeError: disk on fire") as caught:
        study.optimize(objectives.broken, n_trials=10, executor=client, catch=())
    assert isinstance(caught.value.__cause__, RuntimeError)  # with the worker's traceback
    assert 1 <= len(study.trials) <= 2  # nothing new is submitted after the first failure
    assert all(r.state is TrialState.FAIL for r in study.trials)


def test_study_stop_in_a_callback_and_a_timeout_stop_submitting(client, sqlite_url):
    study = tunelab.create_study(name="stop", storage=sqlite_url)
    study.optimize(objectives.slow_quadratic, n_trials=100, executor=client,
                   callbacks=[lambda s, r: s.stop() if len(s.trials) >= 4 else None])
    assert 4 <= len(study.trials) <= 6  # the two in flight finish
    assert all(r.state is TrialState.COMPLETE for r in study.trials)
    timed = tunelab.create_study(name="timed", storage=sqlite_url)
    timed.optimize(objectives.slow_quadratic, timeout=1.0, executor=client)
    # The two slots fill at once; each trial takes 0.3 s, so no more than 4 rounds start.
    assert 2 <= len(timed.trials) <= 12
    assert all(r.state is TrialState.COMPLETE for r in timed.trials)


def test_a_finished_grid_stops_the_study_without_a_budget(client, sqlite_url):
    study = tunelab.create_study(
        storage=sqlite_url, sampler={"name": "grid", "search_space": {"x": [-1.0, 0.0, 1.0]}}
    )
    study.optimize(objectives.quadratic, executor=client)
    # Two trials that start together may take the same point: the grid sees a running trial's
    # parameters only once written (as with n_jobs), so only coverage and the end are certain.
    assert {r.params["x"] for r in study.trials} == {-1.0, 0.0, 1.0}
    assert len(study.trials) <= 5


def test_a_relative_sqlite_path_names_the_same_file_for_workers_elsewhere(
    client, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the workers' working directory stays where it was
    study = tunelab.create_study(name="rel", storage="sqlite:///relative.db")
    study.optimize(objectives.quadratic, n_trials=2, executor=client)
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 2


def test_ctrl_c_cancels_the_trials_not_started_and_fails_the_running_ones(client, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    out = interrupted_run(tmp_path, url, f"""
        with distributed.Client({client.scheduler.address!r}) as client:
            try:
                study.optimize(objectives.slow_quadratic, n_trials=1000, executor=client)
            except KeyboardInterrupt:
                print("interrupted at", time.time(), flush=True)
    """, imports="import distributed")
    assert "interrupted at" in out
    interrupted_at = datetime.fromtimestamp(float(out.split()[-1]), timezone.utc)
    study = tunelab.load_study("c", url)
    deadline = time.monotonic() + 10  # a trial that was starting fails itself in a moment
    while study.get_trials([TrialState.RUNNING]) and time.monotonic() < deadline:
        time.sleep(0.05)
    trials = study.trials
    interrupted = assert_interrupted_cleanly(trials)
    # None completed after Ctrl-C, not even one whose task was starting at that moment.
    assert all(r.datetime_complete < interrupted_at for r in trials if r not in interrupted)
    time.sleep(0.5)  # the cluster stops them at their next report, and starts nothing more
    assert tunelab.load_study("c", url).trials == trials


def test_a_worker_killed_mid_trial_is_failed_and_retried_and_the_budget_is_exact(
    client, sqlite_url
):
    # A grace of 15 heartbeats: a live worker on a loaded machine (the suite runs beside it)
    # once went 1 s without one, and its trial was failed as if it had been killed.
    study = tunelab.create_study(name="k", storage=sqlite_url, heartbeat_interval=0.2,
                                 grace_period=3.0, max_retries=1)
    killer = KillOneRunningWorker()
    try:
        study.optimize(objectives.slow_quadratic, n_trials=16, executor=client,
                       callbacks=[killer])
    finally:
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the other tests
    # Dask ran the lost task again on the other worker; it found its trial and started none.
    assert_failed_and_retried(study.trials, killer.killed, 16)


# The command line -------------------------------------------------------------------------


def test_cli_dask_runs_the_study_on_the_cluster_and_sends_it_the_objectives_module(
    client, worker_pids, tmp_path
):
    from typer.testing import CliRunner

    from tunelab.cli import app

    # A module next to the study file, which the workers (started elsewhere) cannot import.
    (tmp_path / "next_to_the_study_file.py").write_text(textwrap.dedent("""
        import os

        def objective(trial):
            trial.set_user_attr("pid", os.getpid())
            return trial.suggest_float("x", -5.0, 5.0) ** 2
    """))
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        "name: on-dask\nobjective: next_to_the_study_file:objective\nn_trials: 4\nseed: 0\n"
    )
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(
        app, ["run", str(study_file), "--storage", url, "--dask", client.scheduler.address]
    )
    assert result.exit_code == 0, result.output
    trials = tunelab.load_study("on-dask", url).trials
    assert [r.state for r in trials] == [TrialState.COMPLETE] * 4
    assert {r.user_attrs["pid"] for r in trials} <= worker_pids
    assert all("dask_task" in r.system_attrs for r in trials)


def test_cli_dask_says_clearly_when_no_scheduler_answers(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tunelab.cli import app

    monkeypatch.setattr(tunelab_dask, "CONNECT_TIMEOUT_SECONDS", 0.5)
    study_file = tmp_path / "study.yaml"
    study_file.write_text("name: x\nobjective: tests.execution.objectives:quadratic\nn_trials: 1\n")
    result = CliRunner().invoke(
        app, ["run", str(study_file), "--storage", f"sqlite:///{tmp_path / 'x.db'}",
              "--dask", "tcp://127.0.0.1:9"],
    )
    assert result.exit_code == 2
    assert "no Dask scheduler answered at 'tcp://127.0.0.1:9'" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before the storage was touched
