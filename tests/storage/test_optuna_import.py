"""Importing Optuna studies: every trial comes across as Optuna itself reads it, the import is
all or nothing, names are checked first, and tunelab's samplers learn from the history."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

import tunelab
from tests.storage.optuna_studies import (
    CHOICES,
    MIXED,
    N_MIXED,
    N_PARETO,
    PARETO,
    assert_came_across,
    optuna,
    shared_optuna_sqlite,
    write_optuna_storage,
)
from tunelab._attrs import FIXED_PARAMS_ATTR, IMPORTED_FROM_ATTR
from tunelab.exceptions import ConfigError, DuplicatedStudyError, StorageError
from tunelab.storage import InMemoryStorage, import_optuna
from tunelab.trial import TrialRecord, TrialState


@pytest.fixture(scope="module")
def optuna_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return shared_optuna_sqlite(tmp_path_factory)


@pytest.fixture(scope="module")
def imported(optuna_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tunelab SQLite storage holding both studies, imported once for the module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('imported') / 'tunelab.db'}"
    assert import_optuna(optuna_url, url) == [MIXED, PARETO]
    return url


@pytest.mark.parametrize("name", [MIXED, PARETO])
def test_every_trial_comes_across_as_optuna_reads_it(optuna_url, imported, name):
    theirs = optuna.load_study(study_name=name, storage=optuna_url).trials
    ours = tunelab.load_study(name, imported).trials
    assert len(ours) == len(theirs) == (N_MIXED + 2 if name == MIXED else N_PARETO)
    for mine, other in zip(ours, theirs):
        assert_came_across(mine, other)


def test_the_mixed_study_has_every_kind_of_trial_and_value(imported):
    trials = tunelab.load_study(MIXED, imported).trials
    states = {state: sum(t.state is state for t in trials) for state in TrialState}
    assert states[TrialState.PRUNED] > 100 and states[TrialState.FAIL] > 100
    assert states[TrialState.WAITING] == 1 and trials[-1].state is TrialState.WAITING
    assert trials[-1].system_attrs[FIXED_PARAMS_ATTR] == {"x": 1.0, "opt": "adam"}
    assert trials[-2].fail_reason and trials[-2].intermediate_values == {0: 7.0}
    assert any(t.values == (math.inf,) for t in trials)
    assert any(math.isnan(v) for t in trials for v in t.intermediate_values.values())
    assert {t.params["opt"] for t in trials if "opt" in t.params} == set(CHOICES)
    assert all(type(t.params["width"]) is int for t in trials if "width" in t.params)


def test_directions_metric_names_and_the_study_attributes_come_across(optuna_url, imported):
    pareto = tunelab.load_study(PARETO, imported)
    assert tuple(pareto.directions) == ("minimize", "minimize")
    assert tuple(pareto.metric_names) == ("cost", "error")
    origin = tunelab.load_study(MIXED, imported).storage.get_study(MIXED).system_attrs[
        IMPORTED_FROM_ATTR
    ]
    assert origin["optuna_study"] == MIXED and origin["optuna_storage"] == optuna_url
    assert origin["user_attrs"] == {"owner": "research"}
    assert origin["schema_version"] == "v3.2.0.a" and origin["optuna_version"] == optuna.__version__


def test_the_best_trials_are_those_optuna_finds(optuna_url, imported):
    theirs = optuna.load_study(study_name=MIXED, storage=optuna_url)
    ours = tunelab.load_study(MIXED, imported)
    assert ours.best_trial.number == theirs.best_trial.number
    assert ours.best_value == theirs.best_value
    feasible_front = {
        t.number for t in optuna.load_study(study_name=PARETO, storage=optuna_url).best_trials
    }
    assert {t.number for t in tunelab.load_study(PARETO, imported).best_trials} == feasible_front


def test_a_continued_tpe_study_proposes_near_the_imported_best(optuna_url):
    """After the enqueued trial, TPE's first proposals on the imported history land near its
    best x (1.0); a fresh study starts at random over [-5, 5] (mean distance to 1.0: 2.6)."""

    def distances(storage: Any, seed: int, enqueued: int) -> list[float]:
        study = tunelab.load_study(MIXED, storage, sampler="tpe", seed=seed)
        xs = [study.ask().suggest_float("x", -5.0, 5.0) for _ in range(enqueued + 5)]
        assert xs[:enqueued] == [1.0] * enqueued  # the imported WAITING trial runs first
        return [abs(x - 1.0) for x in xs[enqueued:]]

    continued, fresh = [], []
    for seed in range(3):
        store = InMemoryStorage()
        import_optuna(optuna_url, store, [MIXED])
        continued += distances(store, seed, enqueued=1)
        tunelab.create_study(MIXED, storage=(empty := InMemoryStorage()))
        fresh += distances(empty, seed, enqueued=0)
    assert statistics.mean(continued) < 0.2 * statistics.mean(fresh)


# Names, and all or nothing -------------------------------------------------------------------


def test_a_study_already_in_the_target_is_refused_and_nothing_is_written(optuna_url):
    store = InMemoryStorage()
    tunelab.create_study(PARETO, storage=store)
    with pytest.raises(DuplicatedStudyError, match="already has a study 'pareto'.*--as NEW_NAME"):
        import_optuna(optuna_url, store)
    assert [s.name for s in store.list_studies()] == [PARETO]


def test_skip_existing_imports_the_others(optuna_url):
    store = InMemoryStorage()
    tunelab.create_study(PARETO, storage=store)
    assert import_optuna(optuna_url, store, skip_existing=True) == [MIXED]
    assert store.count_trials(store.get_study(PARETO).study_id) == 0


def test_one_study_is_imported_under_a_new_name(optuna_url):
    store = InMemoryStorage()
    assert import_optuna(optuna_url, store, [PARETO], new_name="front") == ["front"]
    assert store.count_trials(store.get_study("front").study_id) == N_PARETO


def test_a_new_name_for_several_studies_is_refused(optuna_url):
    with pytest.raises(ConfigError, match="renames one study, but this import has 2"):
        import_optuna(optuna_url, InMemoryStorage(), new_name="front")


def test_a_name_tunelab_cannot_use_asks_for_another(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="my study", storage=url)
    with pytest.raises(StorageError, match="'my study' cannot be imported under that name.*--as"):
        import_optuna(url, InMemoryStorage())
    assert import_optuna(url, (store := InMemoryStorage()), new_name="my-study") == ["my-study"]
    assert store.get_study("my-study").directions == ("minimize",)


class FailingAddTrials(InMemoryStorage):
    """Fails the second study's trials, as a full disk or a lost server would."""

    def add_trials(self, study_id: int, records: Any) -> list[TrialRecord]:
        if self.list_studies()[1:]:
            raise StorageError("disk full")
        return super().add_trials(study_id, records)


def test_a_failed_import_leaves_no_study_behind(optuna_url):
    store = FailingAddTrials()
    with pytest.raises(StorageError, match="disk full"):
        import_optuna(optuna_url, store)
    assert store.list_studies() == []


def test_the_source_and_the_target_cannot_be_one_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    write_optuna_storage(url, n_mixed=3, n_pareto=3)
    with pytest.raises(ConfigError, match="are the same file"):
        import_optuna(url, url)
