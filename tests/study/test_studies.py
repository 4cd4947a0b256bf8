"""Creating, loading, deleting and listing studies; directions; which storage a study gets."""

from __future__ import annotations

import pytest

import tunelab
from tests.study.objectives import returns_x
from tunelab.exceptions import (
    ConfigError,
    DuplicatedStudyError,
    StorageError,
    StudyNotFoundError,
    TunelabError,
)
from tunelab.storage import InMemoryStorage
from tunelab.trial import TrialState

# Create, load, delete, list ----------------------------------------------------------------


def test_load_study_returns_the_created_study(storage):
    created = tunelab.create_study(
        name="digits", storage=storage, direction="maximize", metric_names=["acc"]
    )
    loaded = tunelab.load_study("digits", storage)
    assert (loaded.study_name, loaded.study_id) == ("digits", created.study_id)
    assert loaded.directions == ("maximize",)
    assert loaded.metric_names == ("acc",)


def test_load_if_exists_returns_the_existing_study_with_its_trials(storage):
    first = tunelab.create_study(name="s", storage=storage, seed=0)
    first.optimize(returns_x, n_trials=2)
    again = tunelab.create_study(name="s", storage=storage, load_if_exists=True)
    assert again.study_id == first.study_id
    assert len(again.trials) == 2


def test_load_if_exists_creates_the_study_when_missing(storage):
    study = tunelab.create_study(name="new", storage=storage, load_if_exists=True)
    assert tunelab.load_study("new", storage).study_id == study.study_id


def test_load_if_exists_with_other_directions_raises(storage):
    tunelab.create_study(name="s", storage=storage, direction="minimize")
    with pytest.raises(ConfigError, match=r"exists with directions \['minimize'\]"):
        tunelab.create_study(name="s", storage=storage, direction="maximize", load_if_exists=True)


def test_creating_a_duplicate_name_raises(storage):
    tunelab.create_study(name="s", storage=storage)
    with pytest.raises(DuplicatedStudyError, match="'s' already exists.*load_if_exists=True"):
        tunelab.create_study(name="s", storage=storage)


def test_loading_a_missing_study_raises_study_not_found(storage):
    with pytest.raises(StudyNotFoundError, match="no study named 'ghost'"):
        tunelab.load_study("ghost", storage)


@pytest.mark.parametrize("name", ["has space", "-leading-dash", "x" * 129, "naïve"])
def test_invalid_study_name_raises_storage_error(storage, name):
    with pytest.raises(StorageError, match="is not valid"):
        tunelab.create_study(name=name, storage=storage)


def test_delete_study_removes_it_and_its_trials(storage):
    study = tunelab.create_study(name="gone", storage=storage, seed=0)
    study.optimize(returns_x, n_trials=3)
    tunelab.create_study(name="kept", storage=storage)
    tunelab.delete_study("gone", storage)
    with pytest.raises(StudyNotFoundError):
        tunelab.load_study("gone", storage)
    assert [s.name for s in tunelab.list_studies(storage)] == ["kept"]


def test_delete_missing_study_raises_study_not_found(storage):
    with pytest.raises(StudyNotFoundError):
        tunelab.delete_study("ghost", storage)


def test_list_studies_counts_trials_per_state_and_gives_the_best_value(storage):
    low = tunelab.create_study(name="low", storage=storage, direction="minimize")
    for value in (3.0, 1.0, 2.0):
        low.tell(low.ask(), value)
    low.tell(low.ask(), state=TrialState.PRUNED)
    low.tell(low.ask(), state=TrialState.FAIL)
    low.ask()
    high = tunelab.create_study(name="high", storage=storage, direction="maximize")
    for value in (3.0, 1.0):
        high.tell(high.ask(), value)
    tunelab.create_study(name="empty", storage=storage)

    summaries = {s.name: s for s in tunelab.list_studies(storage)}
    assert list(summaries) == ["low", "high", "empty"]
    counts = summaries["low"].counts
    assert (counts[TrialState.COMPLETE], counts[TrialState.PRUNED], counts[TrialState.FAIL]) == (
        3,
        1,
        1,
    )
    assert counts[TrialState.RUNNING] == 1
    assert summaries["low"].n_trials == 6
    assert summaries["low"].best_value == 1.0
    assert summaries["high"].best_value == 3.0
    assert summaries["high"].directions == ("maximize",)
    assert summaries["empty"].n_trials == 0 and summaries["empty"].best_value is None


# Directions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"direction": "up"}, "'up' is not a direction; use 'minimize' or 'maximize'"),
        ({"directions": ["minimize", "best"]}, "'best' is not a direction"),
        (
            {"direction": "minimize", "directions": ["minimize"]},
            "either direction or directions, not both",
        ),
        ({"directions": []}, "directions must be a non-empty list"),
        ({"directions": "minimize"}, "directions must be a non-empty list"),
        (
            {"directions": ["minimize", "maximize"], "metric_names": ["loss"]},
            r"one name per objective \(2\)",
        ),
        ({"direction": "minimize", "metric_names": "loss"}, r"one name per objective \(1\)"),
    ],
)
def test_invalid_directions_raise_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        tunelab.create_study(**options)


def test_duplicate_metric_names_raise_config_error():
    with pytest.raises(ConfigError, match="metric_names"):
        tunelab.create_study(directions=["minimize", "maximize"], metric_names=["score", "score"])


def test_direction_is_case_insensitive_and_minimize_by_default():
    assert tunelab.create_study(direction="MAXIMIZE").direction == "maximize"
    assert tunelab.create_study().direction == "minimize"


def test_direction_of_a_multi_objective_study_raises():
    study = tunelab.create_study(directions=["minimize", "maximize"])
    assert study.directions == ("minimize", "maximize")
    with pytest.raises(TunelabError, match="use .directions"):
        _ = study.direction




# Storage choice and resuming ---------------------------------------------------------------


def test_a_second_study_object_on_the_same_sqlite_file_continues_numbering(sqlite_url):
    first = tunelab.create_study(name="resume", storage=sqlite_url, seed=0)
    first.optimize(returns_x, n_trials=3)
    second = tunelab.load_study("resume", sqlite_url, seed=1)
    second.optimize(returns_x, n_trials=2)
    third = tunelab.create_study(name="resume", storage=sqlite_url, load_if_exists=True, seed=2)
    third.optimize(returns_x, n_trials=1)
    assert [r.number for r in third.trials] == [0, 1, 2, 3, 4, 5]
    assert [r.number for r in first.trials] == [0, 1, 2, 3, 4, 5]


def test_tell_by_number_from_another_process_view(sqlite_url):
    worker = tunelab.create_study(name="s", storage=sqlite_url)
    trial = worker.ask()
    trial.report(0.5, step=0)
    other = tunelab.load_study("s", sqlite_url)
    record = other.tell(trial.number, 0.25)
    assert record.state is TrialState.COMPLETE and record.value == 0.25
    assert worker.trials[0].state is TrialState.COMPLETE


def test_storage_none_is_a_fresh_in_memory_storage():
    first = tunelab.create_study(name="same", storage=None)
    second = tunelab.create_study(name="same", storage=None)
    assert isinstance(first.storage, InMemoryStorage)
    assert first.storage is not second.storage


@pytest.mark.parametrize(
    ("storage", "hint"),
    [
        ("results.db", "sqlite:///results.db"),
        ("", "sqlite:///tunelab.db"),
        (42, "sqlite:///tunelab.db"),
    ],
)
def test_a_storage_that_is_not_a_url_raises_storage_error_suggesting_sqlite(storage, hint):
    with pytest.raises(StorageError, match=f"is not a storage URL; write a URL such as '{hint}'"):
        tunelab.create_study(storage=storage)
