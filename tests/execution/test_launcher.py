"""Worker processes come from a launcher that has the libraries imported, and still start as
a spawned process would: with the caller's environment of the moment, the user's modules as
they are now, and their share of the cores."""

from __future__ import annotations

import decimal
import fractions
import importlib
import os
import pickle
import sys
import textwrap

import pytest

import tunelab
from tunelab.execution.launcher import _is_library, modules_in, thread_share_environment

from . import objectives

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@pytest.fixture
def no_thread_settings(monkeypatch):
    for name in _THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_the_modules_a_pickle_imports_are_read_from_it(protocol):
    # Twice each class, so that later ones come from the pickle's memo; strings among the data.
    graph = [fractions.Fraction(1, 3), decimal.Decimal("1.5"), "tunelab", fractions.Fraction(2, 3),
             {"module": decimal.Decimal("2")}]
    assert modules_in(pickle.dumps(graph, protocol=protocol)) == {"fractions", "decimal"}
    functions = pickle.dumps([objectives.quadratic, objectives.broken], protocol=protocol)
    assert modules_in(functions) == {objectives.__name__}


def test_the_cores_are_shared_among_the_workers_unless_the_user_says(no_thread_settings):
    no_thread_settings.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert thread_share_environment(2) == dict.fromkeys(_THREAD_VARIABLES, "4")
    assert thread_share_environment(3)["OMP_NUM_THREADS"] == "2"  # 8 // 3, rounded down
    assert thread_share_environment(16)["OMP_NUM_THREADS"] == "1"  # never fewer than one
    no_thread_settings.setenv("OMP_NUM_THREADS", "3")
    assert "OMP_NUM_THREADS" not in thread_share_environment(2)


def test_each_worker_process_gets_its_share(sqlite_url, no_thread_settings):
    expected = thread_share_environment(2)["OMP_NUM_THREADS"]
    study = tunelab.create_study(storage=sqlite_url)
    study.optimize(objectives.where_am_i, n_trials=4, n_jobs=2)
    assert {r.user_attrs["OMP_NUM_THREADS"] for r in study.trials} == {expected}
    assert "OMP_NUM_THREADS" not in os.environ  # the parent's own environment is unchanged
    # PyTorch's pool too, whether the launcher had imported PyTorch before or the worker does.
    study.optimize(objectives.torch_threads, n_trials=4, n_jobs=2)
    assert {r.user_attrs["threads"] for r in study.trials[4:]} == {int(expected)}


def test_a_worker_takes_the_environment_of_the_moment_it_starts(sqlite_url, monkeypatch):
    study = tunelab.create_study(storage=sqlite_url)
    study.optimize(objectives.where_am_i, n_trials=2, n_jobs=2)  # the launcher runs from here
    monkeypatch.setenv(objectives.MARKER, "set later")
    study.optimize(objectives.where_am_i, n_trials=2, n_jobs=2)
    assert [r.user_attrs[objectives.MARKER] for r in study.trials] == [None] * 2 + ["set later"] * 2


def test_only_tunelab_and_installed_libraries_count_as_libraries(tmp_path, monkeypatch):
    (tmp_path / "launcher_own_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _is_library("numpy.linalg") and _is_library("json") and _is_library("tunelab.study")
    assert not _is_library("launcher_own_module")  # the user's: imported by each worker
    assert not _is_library(objectives.__name__)
    assert not _is_library("no_such_module_here")


def test_a_worker_imports_the_users_module_as_it_is_now(sqlite_url, tmp_path, monkeypatch):
    module = tmp_path / "launcher_user_objective.py"
    source = textwrap.dedent("""\
        VALUE = {}


        def objective(trial):
            trial.suggest_float("x", 0.0, 1.0)
            return VALUE
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # where a launcher started here looks for modules, by any Python
    monkeypatch.delitem(sys.modules, "launcher_user_objective", raising=False)
    study = tunelab.create_study(storage=sqlite_url)
    for value in (1.0, 22.0):  # sources of different sizes: no stale bytecode
        module.write_text(source.format(value))
        importlib.invalidate_caches()
        user = importlib.reload(sys.modules["launcher_user_objective"]) if value > 1 else (
            importlib.import_module("launcher_user_objective"))
        study.optimize(user.objective, n_trials=2, n_jobs=2)
    assert [r.value for r in study.trials] == [1.0, 1.0, 22.0, 22.0]
