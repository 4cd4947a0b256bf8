"""Scripts about studies and storages, as Optuna's documentation writes them, run under Optuna
and under tunelab: the same kinds of results come out."""

from __future__ import annotations

import json

import optuna
import pytest

import tunelab
from tests.compat.harness import run_both, run_script
from tunelab.exceptions import StorageError

OBJECTIVE = """
def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2
"""


def test_a_study_in_a_database_is_loaded_again_by_its_name(tmp_path):
    body = OBJECTIVE + """
study = optuna.create_study(
    study_name="quadratic",
    storage=storage_url,
    direction="minimize",
    sampler=optuna.samplers.RandomSampler(seed=0),
)
study.optimize(objective, n_trials=6)
loaded = optuna.load_study(study_name="quadratic", storage=storage_url)
result["name"] = loaded.study_name
result["n_trials"] = len(loaded.trials)
result["same_best"] = loaded.best_value == study.best_value
result["names"] = optuna.get_all_study_names(storage=storage_url)
result["only"] = optuna.load_study(study_name=None, storage=storage_url).study_name
optuna.delete_study(study_name="quadratic", storage=storage_url)
result["after_delete"] = optuna.study.get_all_study_names(storage_url)
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["n_trials"] == 6 and ran_tunelab["after_delete"] == []


def test_load_if_exists_resumes_the_study_and_its_numbering(tmp_path):
    body = OBJECTIVE + """
for run in range(2):
    study = optuna.create_study(
        study_name="resumed", storage=storage_url, load_if_exists=True,
        sampler=optuna.samplers.RandomSampler(seed=run),
    )
    study.optimize(objective, n_trials=3)
result["numbers"] = [t.number for t in study.trials]
result["states"] = [t.state.name for t in study.get_trials(deepcopy=False)]
complete = (optuna.trial.TrialState.COMPLETE,)
result["complete"] = len(study.get_trials(deepcopy=False, states=complete))
try:
    optuna.create_study(study_name="resumed", storage=storage_url)
except optuna.exceptions.DuplicatedStudyError:
    result["duplicate"] = "refused"
try:
    optuna.load_study(study_name="missing", storage=storage_url)
except KeyError:
    result["missing"] = "KeyError"
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["numbers"] == [0, 1, 2, 3, 4, 5]


def test_study_user_attributes_and_summaries(tmp_path):
    body = OBJECTIVE + """
study = optuna.create_study(study_name="attrs", storage=storage_url, direction="maximize")
study.set_user_attr("objective function", "quadratic function")
study.set_user_attr("dimensions", 1)
study.set_user_attr("contributors", ["Akiba", "Sano"])
study.optimize(objective, n_trials=4)
optuna.create_study(study_name="empty", storage=storage_url)

again = optuna.load_study(study_name="attrs", storage=storage_url)
result["user_attrs"] = again.user_attrs
summaries = optuna.get_all_study_summaries(storage=storage_url)
result["summaries"] = [
    (s.study_name, s.direction.name, s.n_trials, s.user_attrs, s.best_trial is None,
     type(s.datetime_start).__name__)
    for s in summaries
]
result["best_is_the_studys"] = summaries[0].best_trial.value == study.best_value
without = optuna.study.get_all_study_summaries(storage_url, include_best_trial=False)
result["without_best"] = [s.best_trial for s in without]
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["summaries"][1] == ("empty", "MINIMIZE", 0, {}, True, "NoneType")


def test_copy_study_into_another_storage(tmp_path):
    body = """
def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    trial.set_user_attr("kind_again", kind)
    for step in range(3):
        trial.report(x * x + step, step)
    return x * x

study = optuna.create_study(
    study_name="source", storage=storage_url, sampler=optuna.samplers.RandomSampler(seed=1)
)
study.set_user_attr("dataset", "digits")
study.optimize(objective, n_trials=5)
target = optuna.storages.InMemoryStorage()
optuna.copy_study(from_study_name="source", from_storage=storage_url, to_storage=target,
                  to_study_name="copy")
copy = optuna.load_study(study_name="copy", storage=target)
result["states"] = [t.state.name for t in copy.trials]
result["user_attrs"] = copy.user_attrs
result["same_params"] = [t.params for t in copy.trials] == [t.params for t in study.trials]
result["same_curves"] = (
    [t.intermediate_values for t in copy.trials] == [t.intermediate_values for t in study.trials]
)
result["same_trial_attrs"] = (
    [t.user_attrs for t in copy.trials] == [t.user_attrs for t in study.trials]
)
result["same_best"] = copy.best_value == study.best_value
result["direction"] = copy.direction.name
try:
    optuna.copy_study(from_study_name="source", from_storage=storage_url, to_storage=target,
                      to_study_name="copy")
except optuna.exceptions.DuplicatedStudyError:
    result["again"] = "refused"
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["states"] == ["COMPLETE"] * 5


def test_max_trials_callback_stops_at_a_count_of_completed_trials(tmp_path):
    body = """
MaxTrialsCallback = optuna.study.MaxTrialsCallback
TrialState = optuna.trial.TrialState

def objective(trial):
    x = trial.suggest_float("x", -1, 1)
    if trial.number % 3 == 2:
        raise optuna.TrialPruned()
    return x ** 2

study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
study.optimize(
    objective, n_trials=100, callbacks=[MaxTrialsCallback(6, states=(TrialState.COMPLETE,))]
)
result["complete"] = len(study.get_trials(states=(TrialState.COMPLETE,)))
result["all"] = len(study.trials)
study.optimize(objective, n_trials=100, callbacks=[MaxTrialsCallback(10, states=None)])
result["all_after"] = len(study.trials)
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna == {"complete": 6, "all": 8, "all_after": 10}


def test_n_jobs_on_a_study_in_memory_with_gc_after_each_trial(tmp_path):
    body = """
import threading

def objective(trial):
    names.add(threading.current_thread().name)
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2

names = set()
study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=30, n_jobs=2, gc_after_trial=True)
result["trials"] = len(study.trials)
result["numbers"] = sorted(t.number for t in study.trials) == list(range(30))
result["complete"] = all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
result["not_the_main_thread"] = threading.current_thread().name not in names
result["near_the_minimum"] = study.best_value < 1.0
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna == {
        "trials": 30,
        "numbers": True,
        "complete": True,
        "not_the_main_thread": True,
        "near_the_minimum": True,
    }


def test_enqueue_skip_if_exists_and_tell_skip_if_finished(tmp_path):
    body = """
study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
for _ in range(3):
    study.enqueue_trial({"x": 1.5}, skip_if_exists=True)
study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=2)
study.enqueue_trial({"x": 1.5}, skip_if_exists=True)
trial = study.ask()
study.tell(trial, 0.5)
frozen = study.tell(trial, 9.0, skip_if_finished=True)
result["xs_first"] = study.trials[0].params["x"]
result["counted"] = len(study.trials)
result["kept"] = (frozen.value, study.trials[-1].value)
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna == {"xs_first": 1.5, "counted": 3, "kept": (0.5, 0.5)}


def test_the_default_pruner_stops_a_bad_learning_curve(tmp_path):
    body = """
def objective(trial):
    slope = trial.suggest_float("slope", 0.0, 1.0)
    for step in range(10):
        trial.report(slope * (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return slope * 10

study = optuna.create_study()
for slope in (0.1, 0.12, 0.14, 0.16, 0.18, 0.9, 0.11):
    study.enqueue_trial({"slope": slope})
study.optimize(objective, n_trials=7)
result["pruner"] = type(study.pruner).__name__
result["states"] = [t.state.name for t in study.trials]
pruned = study.trials[5]
result["pruned_early"] = max(pruned.intermediate_values) < 9
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["states"] == ["COMPLETE"] * 5 + ["PRUNED", "COMPLETE"]


def test_ask_and_tell_with_fixed_distributions(tmp_path):
    body = """
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
distributions = {
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
    "lr": FloatDistribution(0.0001, 0.1, log=True),
}
for _ in range(4):
    trial = study.ask(fixed_distributions=distributions)
    lr = trial.params["lr"]
    score = 1.0 - abs(lr - 0.01) if trial.params["optimizer"] == "adam" else 0.5
    study.tell(trial, score)
result["params"] = sorted(study.best_params)
result["in_range"] = all(0.0001 <= t.params["lr"] <= 0.1 for t in study.trials)
result["kinds"] = sorted({type(d).__name__ for t in study.trials for d in t.distributions.values()})
result["states"] = [t.state.name for t in study.trials]
"""
    # Until tunelab.distributions exists under Optuna's name, each run gets its own classes.
    ran_optuna = run_script(
        body, "optuna", tmp_path / "optuna",
        CategoricalDistribution=optuna.distributions.CategoricalDistribution,
        FloatDistribution=optuna.distributions.FloatDistribution,
    )
    ran_tunelab = run_script(
        body, "tunelab", tmp_path / "tunelab",
        CategoricalDistribution=tunelab.CategoricalDistribution,
        FloatDistribution=tunelab.FloatDistribution,
    )
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["params"] == ["lr", "optimizer"]


@pytest.mark.parametrize("multi_index", [False, True])
def test_trials_dataframe_columns(tmp_path, multi_index):
    body = """
def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    layers = trial.suggest_int("layers", 1, 3)
    trial.set_user_attr("note", f"{layers} layers")
    if trial.number == 2:
        raise optuna.TrialPruned()
    return x ** 2 + layers

study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
study.optimize(objective, n_trials=4)

def shown(frame):
    # tunelab keeps a system attribute of its own on every trial (the process that ran it)
    return [c for c in frame.columns if "system_attrs" not in str(c)]

frame = study.trials_dataframe(multi_index=multi_index)
result["columns"] = shown(frame)
result["rows"] = len(frame)
result["states"] = list(frame[("state", "") if multi_index else "state"])
value = frame[("value", "") if multi_index else "value"]
result["value_is_nan_when_pruned"] = bool(value.isna()[2])
chosen = study.trials_dataframe(attrs=("number", "value", "params", "state"),
                                multi_index=multi_index)
result["chosen"] = list(chosen.columns)

pair = optuna.create_study(directions=["minimize", "maximize"])
pair.optimize(lambda trial: (trial.suggest_float("a", 0, 1), 1.0), n_trials=2)
result["pair"] = shown(pair.trials_dataframe(multi_index=multi_index))
result["empty"] = optuna.create_study().trials_dataframe().empty
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path, multi_index=multi_index)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["states"] == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]


def test_study_direction_comparisons(tmp_path):
    body = """
StudyDirection = optuna.study.StudyDirection

study = optuna.create_study(direction=StudyDirection.MAXIMIZE, storage=storage_url,
                            study_name="up")
result["maximize"] = study.direction == StudyDirection.MAXIMIZE
result["not_minimize"] = study.direction != StudyDirection.MINIMIZE
result["name"] = study.direction.name
pair = optuna.create_study(directions=["minimize", StudyDirection.MAXIMIZE])
result["pair"] = pair.directions == [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE]
result["pair_names"] = [d.name for d in pair.directions]
summary = optuna.get_all_study_summaries(storage_url)[0]
result["summary"] = summary.direction == StudyDirection.MAXIMIZE
result["members"] = [d.name for d in StudyDirection]
try:
    _ = pair.direction
except Exception:
    result["multi_direction"] = "refused"
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["members"] == ["NOT_SET", "MINIMIZE", "MAXIMIZE"]


def test_rdb_storage_with_heartbeats_and_retries(tmp_path):
    body = OBJECTIVE + """
storage = optuna.storages.RDBStorage(
    url=storage_url,
    heartbeat_interval=60,
    grace_period=120,
    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
)
study = optuna.create_study(study_name="beating", storage=storage)
study.optimize(objective, n_trials=3)
result["states"] = [t.state.name for t in study.trials]
loaded = optuna.load_study(study_name="beating", storage=storage_url)
result["loaded"] = len(loaded.trials)
retried = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number
result["retried"] = [retried(t) for t in loaded.trials]
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["retried"] == [None, None, None]


def test_a_journal_storage_opened_again_resumes_the_study(tmp_path):
    body = OBJECTIVE + """
import os
import warnings

path = os.path.join(folder, "optuna_journal_storage.log")
counts = []
for run in range(2):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    study = optuna.create_study(
        study_name="journal", storage=storage, load_if_exists=True,
        sampler=optuna.samplers.RandomSampler(seed=run),
    )
    study.optimize(objective, n_trials=3)
    counts.append(len(study.trials))
result["counts"] = counts
result["numbers"] = [t.number for t in study.trials]
result["states"] = sorted({t.state.name for t in study.trials})
result["names"] = optuna.get_all_study_names(storage)
lock = optuna.storages.journal.JournalFileOpenLock(path)
locked = optuna.storages.JournalStorage(
    optuna.storages.journal.JournalFileBackend(path, lock_obj=lock)
)
result["through_a_lock"] = len(optuna.load_study(study_name="journal", storage=locked).trials)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    legacy = optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path))
result["legacy_warns"] = sorted({w.category.__name__ for w in caught})
result["legacy"] = len(optuna.load_study(study_name="journal", storage=legacy).trials)
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["counts"] == [3, 6] and ran_tunelab["numbers"] == list(range(6))


def test_a_journal_that_optuna_wrote_is_refused_by_tunelab_and_left_as_it_was(tmp_path):
    body = OBJECTIVE + """
storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
optuna.create_study(study_name="journal", storage=storage).optimize(objective, n_trials=2)
"""
    path = tmp_path / "optuna_journal_storage.log"
    run_script(body, "optuna", tmp_path / "optuna", path=str(path))
    written = path.read_bytes()
    with pytest.raises(StorageError, match="is an Optuna journal log"):
        run_script(body, "tunelab", tmp_path / "tunelab", path=str(path))
    assert path.read_bytes() == written
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, "optuna", "tunelab"])


def test_artifacts_uploaded_in_an_objective_are_listed_and_downloaded(tmp_path):
    body = """
import os

base = os.path.join(folder, "artifacts")
os.makedirs(base, exist_ok=True)
store = optuna.artifacts.FileSystemArtifactStore(base_path=base)
storage = optuna.storages.RDBStorage(storage_url)

def objective(trial):
    x = trial.suggest_float("x", -1, 1)
    path = os.path.join(folder, f"model-{trial.number}.json")
    with open(path, "w") as file:
        file.write('{"trial": %d}' % trial.number)
    optuna.artifacts.upload_artifact(artifact_store=store, file_path=path, study_or_trial=trial)
    return x * x

study = optuna.create_study(study_name="art", storage=storage,
                            sampler=optuna.samplers.RandomSampler(seed=0))
study.optimize(objective, n_trials=2)
notes = os.path.join(folder, "notes.csv.gz")
with open(notes, "wb") as file:
    file.write(b"\\x1f\\x8b")
optuna.artifacts.upload_artifact(artifact_store=store, file_path=notes, study_or_trial=study,
                                 mimetype="text/csv")

metas = [optuna.artifacts.get_all_artifact_meta(t, storage=storage) for t in study.trials]
result["trial_meta"] = [[(m.filename, m.mimetype, m.encoding) for m in ms] for ms in metas]
study_meta = optuna.artifacts.get_all_artifact_meta(study)
result["study_meta"] = [(m.filename, m.mimetype, m.encoding) for m in study_meta]
contents = []
for number, (meta,) in enumerate(metas):
    target = os.path.join(folder, f"downloaded-{number}.json")
    optuna.artifacts.download_artifact(artifact_store=store, artifact_id=meta.artifact_id,
                                       file_path=target)
    with open(target) as file:
        contents.append(file.read())
result["contents"] = contents
result["ids"] = len({m.artifact_id for ms in metas for m in ms} | {study_meta[0].artifact_id})
result["stored"] = len(os.listdir(base))
try:
    optuna.artifacts.download_artifact(artifact_store=store, file_path=target,
                                       artifact_id=metas[0][0].artifact_id)
except FileExistsError:
    result["again"] = "refused"
"""
    ran_optuna, ran_tunelab = run_both(body, tmp_path)
    assert ran_tunelab == ran_optuna
    assert ran_tunelab["contents"] == [json.dumps({"trial": n}) for n in range(2)]
    assert ran_tunelab["study_meta"] == [("notes.csv.gz", "text/csv", "gzip")]
