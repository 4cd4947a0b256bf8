"""Worker processes that die: optimize(n_jobs=...) fails their trials at once (and retries them),
gives their share of the budget to the others or says why none can run, and its workers die
with it, so that nothing is left running and nothing is lost or doubled."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import tunelab
from tests.cli.helpers import python_env
from tests.execution import objectives
from tests.execution.helpers import (
    ROOT,
    KillOneRunningWorker,
    assert_failed_and_retried,
    wait_until_gone,
)
from tunelab.execution import WorkerError
from tunelab.heartbeat import recover_stale_trials
from tunelab.trial import TrialRecord, TrialState

pytestmark = pytest.mark.slow

RESTART_VARIABLE = "TUNELAB_TEST_POSTGRES_RESTART"
# Longer than any of these runs: a trial failed here was failed by its parent, not for silence.
NO_SILENCE_FAILS = {"heartbeat_interval": 0.2, "grace_period": 120.0, "max_retries": 1}


def assert_intact(trials: list[TrialRecord]) -> None:
    """Numbers without a gap or a double, none left RUNNING, every completed trial a value."""
    assert [r.number for r in trials] == list(range(len(trials)))
    assert not [r for r in trials if not r.state.is_finished()]
    assert all(r.value is not None for r in trials if r.state is TrialState.COMPLETE)


def assert_no_worker_left() -> None:
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("tunelab-")]


def test_a_worker_killed_while_trials_still_start_is_failed_at_once_and_retried_in_the_budget(
    sqlite_url,
):
    study = tunelab.create_study(name="k", storage=sqlite_url, **NO_SILENCE_FAILS)
    killer = KillOneRunningWorker()
    study.optimize(objectives.slow_quadratic, n_trials=16, n_jobs=2, callbacks=[killer])
    trials = study.trials
    assert_failed_and_retried(trials, killer.killed, 16, reason="was killed by SIGKILL")
    assert_intact(trials)
    assert_no_worker_left()


@pytest.mark.parametrize("heartbeats", [{}, NO_SILENCE_FAILS], ids=["alone", "retried"])
def test_a_worker_killed_in_the_last_trial_leaves_nothing_running_when_optimize_returns(
    sqlite_url, heartbeats
):
    study = tunelab.create_study(name="last", storage=sqlite_url, **heartbeats)
    study.optimize(objectives.killed_in_the_last_trial, n_trials=6, n_jobs=2)
    trials = study.trials
    assert_intact(trials)
    last = trials[5]
    assert last.state is TrialState.FAIL and "was killed by SIGKILL" in last.fail_reason
    if heartbeats:  # its retry had no place left in the budget, and runs after it
        assert len(trials) == 7
        assert trials[6].system_attrs["retry"] == {"of": 5, "count": 1}
        assert trials[6].state is TrialState.COMPLETE and trials[6].params == last.params
    else:
        assert len(trials) == 6
    assert sum(r.state is TrialState.COMPLETE for r in trials) == len(trials) - 1
    assert_no_worker_left()


def test_a_worker_that_cannot_start_is_reported_and_the_others_run_the_budget(
    sqlite_url, tmp_path, caplog
):
    study = tunelab.create_study(storage=sqlite_url)
    objective = objectives.FailsToLoadInOneWorker(str(tmp_path / "claimed"))
    study.optimize(objective, n_trials=6, n_jobs=2)
    trials = study.trials
    assert_intact(trials)
    assert Counter(r.state for r in trials) == {TrialState.COMPLETE: 6}
    [death] = [r.message for r in caplog.records if "died" in r.message]
    assert "died before its first trial: it exited with code 1" in death
    assert "RuntimeError: no licence for this machine" in death
    assert_no_worker_left()


def test_when_every_worker_dies_the_call_raises_a_worker_error_and_leaves_nothing_running(
    sqlite_url,
):
    study = tunelab.create_study(storage=sqlite_url)
    with pytest.raises(WorkerError, match="no worker process is left") as caught:
        study.optimize(objectives.kills_its_worker, n_trials=10, n_jobs=2)
    assert str(caught.value).count("was killed by SIGKILL") == 2
    trials = study.trials
    assert_intact(trials)
    assert len(trials) == 2
    assert all("was killed by SIGKILL" in r.fail_reason for r in trials)
    assert_no_worker_left()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for_completed(url: str, name: str, at_least: int, guard: float = 60.0) -> None:
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        try:
            trials = tunelab.load_study(name, url).trials
        except tunelab.StudyNotFoundError:
            trials = []
        if sum(r.state is TrialState.COMPLETE for r in trials) >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} trials completed in {guard} s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent_and_no_trial_stays_running(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import tunelab
        from tests.execution import objectives

        if __name__ == "__main__":
            study = tunelab.create_study(name="o", storage={url!r}, heartbeat_interval=0.2,
                                         grace_period=1.0)
            study.optimize(objectives.slow_quadratic, n_trials=100_000, n_jobs=2)
    """))
    parent = subprocess.Popen([sys.executable, str(script)])
    workers: list[int] = []
    try:
        wait_for_completed(url, "o", 4)
        workers = children_of(parent.pid)
        assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
        parent.kill()
        parent.wait(timeout=30)
        assert wait_until_gone(workers) == []
        study = tunelab.load_study("o", url)
        made = len(study.trials)
        time.sleep(1.0)
        assert len(study.trials) == made  # nobody starts trials any more
        interrupted = [r for r in study.trials if r.state is TrialState.FAIL]
        assert all(r.fail_reason == "interrupted by SIGTERM" for r in interrupted)
        time.sleep(study.heartbeat.grace_period)
        recover_stale_trials(study, study.heartbeat)  # a trial caught as it started, if any
        assert_intact(study.trials)
    finally:
        for pid in [parent.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        parent.wait(timeout=30)


def test_workers_that_cannot_import_the_objective_raise_a_worker_error(
    sqlite_url, tmp_path, monkeypatch
):
    module = tmp_path / "vanishing_objective.py"
    module.write_text("def objective(trial):\n    return trial.suggest_float('x', 0.0, 1.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from vanishing_objective import objective  # type: ignore[import-not-found]

    module.unlink()  # the workers, new processes, look for it and find nothing
    study = tunelab.create_study(storage=sqlite_url)
    try:
        with pytest.raises(WorkerError, match="ModuleNotFoundError.*vanishing_obj") as caught:
            study.optimize(objective, n_trials=4, n_jobs=2)
    finally:
        del sys.modules["vanishing_objective"]
    assert "importable" in str(caught.value) and "__main__" not in str(caught.value)
    assert study.trials == []
    assert_no_worker_left()


def test_a_script_without_the_main_guard_runs_threads_and_is_told_why(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import tunelab
        from tests.execution import objectives

        study = tunelab.create_study(name="g", storage={url!r}, load_if_exists=True)
        study.optimize(objectives.quadratic, n_trials=40, n_jobs=2)
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    (warning,) = [line for line in run.stderr.splitlines() if "UserWarning" in line]
    assert warning.startswith(f"{script}:7: UserWarning: optimize(n_jobs=...) runs trials in ")
    assert 'if __name__ == "__main__":' in warning
    trials = tunelab.load_study("g", url).trials
    assert len(trials) == 40 and {t.state for t in trials} == {TrialState.COMPLETE}


def test_an_objective_from_an_interactive_session_runs_threads_and_is_told_why(tmp_path):
    url = f"sqlite:///{tmp_path / 'i.db'}"
    code = textwrap.dedent(f"""\
        import tunelab

        def objective(trial):
            return trial.suggest_float("x", 0.0, 1.0)

        study = tunelab.create_study(name="i", storage={url!r})
        study.optimize(objective, n_trials=6, n_jobs=2)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=python_env())
    assert run.returncode == 0, run.stderr
    assert "runs trials in threads: the objective" in run.stderr
    assert "defined in an interactive session" in run.stderr
    trials = tunelab.load_study("i", url).trials
    assert len(trials) == 6 and {t.state for t in trials} == {TrialState.COMPLETE}


@pytest.mark.parametrize("storage_url", ["postgresql"], indirect=True)  # skipped without one
def test_postgresql_restarted_twice_under_eight_workers_ends_with_the_exact_budget(storage_url):
    restart = os.environ.get(RESTART_VARIABLE)
    if not restart:
        pytest.skip(f"set {RESTART_VARIABLE} to a command that restarts the server")
    budget = 80
    study = tunelab.create_study(name="pg", storage=storage_url, heartbeat_interval=0.2,
                                 grace_period=30.0, max_retries=1)
    made_at_restart: list[int] = []

    def restart_twice() -> None:
        for at_least in (8, 40):
            while study.storage.count_trials(study.study_id) < at_least:
                time.sleep(0.05)
            made_at_restart.append(study.storage.count_trials(study.study_id))
            subprocess.run(restart, shell=True, check=True, timeout=60)

    restarter = threading.Thread(target=restart_twice, daemon=True)
    restarter.start()
    study.optimize(objectives.slow_quadratic, n_trials=budget, n_jobs=8)
    restarter.join(timeout=120)
    assert len(made_at_restart) == 2 and made_at_restart[-1] < budget  # both mid-study
    trials = study.trials
    assert_intact(trials)
    assert Counter(r.state for r in trials) == {TrialState.COMPLETE: budget}
    assert_no_worker_left()


@pytest.mark.parametrize("storage_url", ["sqlite", "postgresql"], indirect=True)
def test_eight_workers_on_one_storage_run_the_exact_budget_each_trial_once(storage_url):
    study = tunelab.create_study(name="eight", storage=storage_url, sampler="random", seed=0)
    study.optimize(objectives.quadratic, n_trials=64, n_jobs=8)
    trials = study.trials
    assert_intact(trials)
    assert Counter(r.state for r in trials) == {TrialState.COMPLETE: 64}
    assert len({tuple(sorted(r.params.items())) for r in trials}) == 64  # no trial run twice
    assert_no_worker_left()
