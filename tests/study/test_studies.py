"""Creating, loading, deleting and listing studies; directions; which storage a study gets."""

from __future__ import annotations

import pytest

import tunelab
import tunelab as optuna
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
    assert loaded.directions == ["maximize"]
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


def test_load_if_exists_loads_a_study_another_process_created_after_it_looked(
    storage, monkeypatch
):
    theirs = tunelab.create_study(name="s", storage=storage, seed=0)
    theirs.optimize(returns_x, n_trials=2)
    real_get_study = type(storage).get_study
    looks = []

    def not_yet_on_the_first_look(self, name):
        looks.append(name)
        if len(looks) == 1:
            raise StudyNotFoundError(f"no study named {name!r}")
        return real_get_study(self, name)

    monkeypatch.setattr(type(storage), "get_study", not_yet_on_the_first_look)
    mine = tunelab.create_study(name="s", storage=storage, load_if_exists=True)
    assert mine.study_id == theirs.study_id and len(mine.trials) == 2
    assert looks == ["s", "s"]


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
    assert summaries["high"].directions[0] is tunelab.study.StudyDirection.MAXIMIZE
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
    assert study.directions == ["minimize", "maximize"]
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


# Optuna's spellings --------------------------------------------------------------------------


def test_study_name_is_optunas_keyword_for_name(storage):
    created = optuna.create_study(study_name="digits", storage=storage, direction="maximize")
    assert created.study_name == "digits"
    loaded = optuna.load_study(study_name="digits", storage=storage)
    assert loaded.study_id == created.study_id
    again = optuna.create_study(study_name="digits", storage=storage, load_if_exists=True,
                                direction="maximize")
    assert again.study_id == created.study_id
    optuna.delete_study(study_name="digits", storage=storage)
    assert optuna.get_all_study_names(storage) == []


@pytest.mark.parametrize("call", ["create_study", "load_study", "delete_study"])
def test_two_different_names_are_refused(storage, call):
    optuna.create_study(name="a", storage=storage)
    with pytest.raises(ConfigError, match=f"{call}: name='a' and study_name='b' differ"):
        getattr(optuna, call)("a", storage, study_name="b")


def test_the_same_name_given_both_ways_is_accepted(storage):
    study = optuna.create_study("a", storage, study_name="a")
    assert optuna.load_study("a", storage, study_name="a").study_id == study.study_id


def test_load_study_without_a_name_opens_the_only_study(storage):
    only = optuna.create_study(study_name="only", storage=storage)
    assert optuna.load_study(study_name=None, storage=storage).study_id == only.study_id
    assert optuna.load_study(storage=storage).study_name == "only"


def test_load_study_without_a_name_among_several_lists_them(storage):
    for name in ("first", "second"):
        optuna.create_study(study_name=name, storage=storage)
    with pytest.raises(ConfigError, match=r"holds the studies \['first', 'second'\]; give "
                                          "study_name="):
        optuna.load_study(study_name=None, storage=storage)


def test_load_study_without_a_name_in_an_empty_storage_says_so(storage):
    with pytest.raises(ConfigError, match="holds no study"):
        optuna.load_study(study_name=None, storage=storage)


@pytest.mark.parametrize("call", ["load_study", "delete_study"])
def test_load_and_delete_need_the_storage_that_holds_the_study(call):
    with pytest.raises(ConfigError, match=f"{call}: give storage="):
        getattr(optuna, call)(study_name="x")


def test_a_missing_study_is_a_key_error_as_in_optuna(storage):
    with pytest.raises(KeyError, match="no study named 'ghost'"):
        optuna.load_study(study_name="ghost", storage=storage)


def test_get_all_study_summaries_gives_optunas_fields(storage):
    study = optuna.create_study(study_name="low", storage=storage, direction="minimize")
    study.set_user_attr("dataset", "digits")
    for value in (3.0, 1.0, 2.0):
        study.tell(study.ask(), value)
    optuna.create_study(study_name="pair", storage=storage, directions=["minimize", "maximize"])

    low, pair = optuna.get_all_study_summaries(storage)
    assert (low.study_name, low.direction, low.n_trials, low.user_attrs) == (
        "low",
        optuna.study.StudyDirection.MINIMIZE,
        3,
        {"dataset": "digits"},
    )
    assert low.best_trial.value == 1.0
    assert low.datetime_start == study.trials[0].datetime_start
    assert low.study_id == study.study_id
    assert pair.best_trial is None and pair.datetime_start is None
    assert list(pair.directions) == ["minimize", "maximize"]
    with pytest.raises(TunelabError, match="use .directions"):
        _ = pair.direction
    without = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    assert [s.best_trial for s in without] == [None, None]


def test_the_best_trial_of_a_summary_satisfies_the_constraints(storage):
    study = optuna.create_study(study_name="s", storage=storage)
    for value, constraint in ((1.0, 1.0), (2.0, -1.0)):
        trial = study.ask()
        trial.set_constraints([constraint])
        study.tell(trial, value)
    assert optuna.get_all_study_summaries(storage)[0].best_trial.value == 2.0


def test_get_all_study_names_lists_them_oldest_first(storage):
    for name in ("b", "a"):
        optuna.create_study(study_name=name, storage=storage)
    assert optuna.study.get_all_study_names(storage) == ["b", "a"]


# copy_study ----------------------------------------------------------------------------------


def test_copy_study_copies_directions_metric_names_attributes_and_finished_trials(
    storage, tmp_path
):
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    source = optuna.create_study(study_name="src", storage=storage,
                                 directions=["minimize", "maximize"], metric_names=["loss", "acc"])
    source.set_user_attr("dataset", "digits")
    source.set_system_attr("origin", "lab")
    trial = source.ask()
    trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    trial.set_user_attr("epochs", 3)
    source.tell(trial, (0.5, 0.9))
    source.tell(source.ask(), state=TrialState.FAIL)
    source.ask()  # still running: left out

    optuna.copy_study(from_study_name="src", from_storage=storage, to_storage=target)

    copy = optuna.load_study(study_name="src", storage=target)
    assert copy.directions == ["minimize", "maximize"]
    assert copy.metric_names == ("loss", "acc")
    assert copy.user_attrs == {"dataset": "digits"}
    assert copy.system_attrs["origin"] == "lab"
    assert [r.state for r in copy.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    copied, original = copy.trials[0], source.trials[0]
    for field in ("values", "params", "distributions", "user_attrs", "datetime_start"):
        assert getattr(copied, field) == getattr(original, field), field


def test_copy_study_to_a_taken_name_raises_duplicated_study_error(storage):
    optuna.create_study(study_name="a", storage=storage)
    optuna.create_study(study_name="b", storage=storage)
    with pytest.raises(DuplicatedStudyError):
        optuna.copy_study(from_study_name="a", from_storage=storage, to_storage=storage,
                          to_study_name="b")


# The default pruner --------------------------------------------------------------------------


def test_the_default_pruner_is_optunas_median_pruner_with_its_defaults(storage):
    for study in (
        optuna.create_study(study_name="made", storage=storage),
        optuna.load_study(study_name="made", storage=storage),
    ):
        assert isinstance(study.pruner, optuna.pruners.MedianPruner)
        assert study.pruner.n_startup_trials == 5 and study.pruner.n_warmup_steps == 0


def test_pruner_none_prunes_nothing():
    assert isinstance(optuna.create_study(pruner="none").pruner, optuna.pruners.NopPruner)


# StudyDirection ------------------------------------------------------------------------------


def test_directions_equal_both_optunas_members_and_tunelabs_words():
    StudyDirection = optuna.study.StudyDirection
    study = optuna.create_study(direction=StudyDirection.MAXIMIZE)
    assert study.direction == StudyDirection.MAXIMIZE == "maximize"
    assert study.direction != StudyDirection.MINIMIZE
    assert study.direction.name == "MAXIMIZE" and str(study.direction) == "maximize"
    pair = optuna.create_study(directions=[StudyDirection.MINIMIZE, "maximize"])
    assert pair.directions == [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE]
    assert [d.name for d in pair.directions] == ["MINIMIZE", "MAXIMIZE"]


def test_the_direction_not_set_is_refused():
    with pytest.raises(ConfigError, match="is not a direction; use 'minimize' or 'maximize'"):
        optuna.create_study(direction=optuna.study.StudyDirection.NOT_SET)


def test_a_loaded_study_gives_members_too(sqlite_url):
    optuna.create_study(study_name="s", storage=sqlite_url, direction="maximize")
    direction = optuna.load_study(study_name="s", storage=sqlite_url).direction
    assert direction is optuna.study.StudyDirection.MAXIMIZE
