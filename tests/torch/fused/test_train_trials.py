"""study.optimize(task, fuse=K): fused members are ordinary trials of the study."""

from __future__ import annotations

import logging
import math
import re

import pytest
import torch
from torch import nn

import tunelab
from tunelab._attrs import DEVICE_ATTR, WORKER_ATTR
from tunelab.exceptions import ConfigError
from tunelab.storages import RDBStorage
from tunelab.telemetry import read_divergence, read_telemetry
from tunelab.torch import Task
from tunelab.torch.fused import PopulationTrainer
from tunelab.trial import TrialRecord, worker_name

SEARCH = {
    "lr": {"low": 1e-3, "high": 0.3, "log": True},
    "momentum": {"low": 0.0, "high": 0.9},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "model.width": [8, 16],
}


def task(**changes) -> Task:
    spec = {
        "data": {"name": "digits", "test_fraction": 0.2},
        "model": {"name": "mlp", "depth": 1},
        "recipe": {"epochs": 3, "batch_size": 128, "optimizer": "sgd"},
        "search": SEARCH,
        "artifacts": False,
        **changes,
    }
    return Task(spec)


def run(objective, n_trials: int = 6, fuse: int | None = 3, **study) -> tunelab.Study:
    created = tunelab.create_study(direction="maximize", sampler="random", seed=0, **study)
    created.optimize(objective, n_trials=n_trials, fuse=fuse)
    return created


def assert_same_curve(mine: TrialRecord, theirs: TrialRecord) -> None:
    expected = pytest.approx(dict(theirs.intermediate_values), abs=1e-6)
    assert dict(mine.intermediate_values) == expected


def test_fused_trials_are_the_trials_one_by_one_training_gives():
    fused, alone = run(task()), run(task(), fuse=None)
    assert len({r.params["model.width"] for r in fused.trials}) == 2  # two widths, fused as one
    for mine, theirs in zip(fused.trials, alone.trials):
        assert mine.state is theirs.state is tunelab.TrialState.COMPLETE
        assert mine.params == theirs.params
        assert mine.value == pytest.approx(theirs.value, abs=1e-6)
        assert_same_curve(mine, theirs)
        assert mine.user_attrs.keys() == theirs.user_attrs.keys() >= {"best_epoch", "test_accuracy"}
        assert len(read_telemetry(mine)) == 3


def test_a_diverged_member_holds_where_as_its_trial_trained_alone_would():
    study = tunelab.create_study(direction="maximize", sampler="random", seed=0)
    for lr in (0.01, 1e6, 0.02):  # one architecture: the three train as one population
        study.enqueue_trial({"lr": lr})
    study.optimize(task(search={"lr": [0.01, 1e6, 0.02]}), n_trials=3, fuse=3)
    assert [r.state for r in study.trials] == [
        tunelab.TrialState.COMPLETE, tunelab.TrialState.FAIL, tunelab.TrialState.COMPLETE
    ]
    diverged = study.trials[1]
    assert diverged.fail_reason.startswith("FloatingPointError: training loss became")
    divergence = read_divergence(diverged)
    assert (divergence.epoch, divergence.lr) == (1, 1e6) and not math.isfinite(divergence.loss)
    assert [read_divergence(r) is None for r in study.trials] == [True, False, True]


def test_with_asha_pruned_members_are_pruned_trials_and_stop_costing_steps(monkeypatch):
    steps: list[int] = []
    fit = PopulationTrainer.fit

    def counting_fit(self, on_done=None):
        outcomes = fit(self, on_done)
        steps.append(self.member_steps)
        return outcomes

    monkeypatch.setattr(PopulationTrainer, "fit", counting_fit)
    pruner = {"name": "asha", "min_resource": 1, "reduction_factor": 3}
    objective = task(recipe={"epochs": 6, "batch_size": 128, "optimizer": "sgd"},
                     search={"lr": {"low": 1e-4, "high": 0.3, "log": True}})
    fused = run(objective, n_trials=9, fuse=9, pruner=pruner)
    alone = run(objective, n_trials=9, fuse=None, pruner=pruner)
    states = [r.state for r in fused.trials]
    assert tunelab.TrialState.PRUNED in states and tunelab.TrialState.COMPLETE in states
    for record in fused.get_trials([tunelab.TrialState.PRUNED]):
        assert "pruned after epoch" in record.fail_reason
        assert len(record.intermediate_values) == len(read_telemetry(record)) < 6
    kinds = {(r.state, frozenset(r.system_attrs), frozenset(r.user_attrs)) for r in fused.trials}
    assert kinds == {(r.state, frozenset(r.system_attrs), frozenset(r.user_attrs))
                     for r in alone.trials}
    epochs_trained = sum(len(r.intermediate_values) for r in fused.trials)
    assert steps == [epochs_trained * 9] and epochs_trained < 9 * 6  # 9 steps an epoch


def normalized(input_shape, n_outputs) -> nn.Module:
    """A model with a layer fused training does not know (LayerNorm)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.LayerNorm(8), nn.Linear(8, n_outputs))


def test_an_unsupported_layer_is_named_and_its_trials_train_one_by_one(caplog):
    objective = task(model={"name": normalized}, search={"lr": SEARCH["lr"]})
    with caplog.at_level(logging.WARNING, logger="tunelab"):
        study = run(objective, n_trials=2, fuse=2)
    assert "Trials 0, 1 train one by one: layer '2' (LayerNorm) cannot be fused" in caplog.text
    assert [r.state for r in study.trials] == [tunelab.TrialState.COMPLETE] * 2
    alone = run(objective, n_trials=2, fuse=None)
    assert [r.value for r in study.trials] == [r.value for r in alone.trials]


def test_a_population_too_large_for_the_device_starts_over_in_halves(monkeypatch, caplog):
    train_epoch = PopulationTrainer._train_epoch

    def memory_for_two(self, *args):
        if len(self.members) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (as a device would say)")
        return train_epoch(self, *args)

    monkeypatch.setattr(PopulationTrainer, "_train_epoch", memory_for_two)
    objective = task(search={"lr": SEARCH["lr"]})
    with caplog.at_level(logging.WARNING, logger="tunelab"):
        study = run(objective, n_trials=6, fuse=6)
    said = caplog.text
    assert "A population of 6 trials ran out of device memory; training it as 3 and 3" in said
    assert "A population of 3 trials ran out of device memory; training it as 1 and 2" in said
    alone = run(objective, n_trials=6, fuse=None)
    for mine, theirs in zip(study.trials, alone.trials):
        assert mine.state is tunelab.TrialState.COMPLETE
        assert_same_curve(mine, theirs)


def test_cross_validation_trains_alone_and_says_why(caplog):
    objective = task(search={"lr": SEARCH["lr"]}, cv=2)
    with caplog.at_level(logging.INFO, logger="tunelab"):
        study = run(objective, n_trials=2, fuse=2)
    assert "Trial 0 trains alone: cross-validation" in caplog.text
    assert all(r.state is tunelab.TrialState.COMPLETE for r in study.trials)


def test_a_trial_whose_values_are_refused_fails_alone():
    objective = task(search={"lr": SEARCH["lr"], "warmup_epochs": [0, 5]})
    study = run(objective, n_trials=6, fuse=6)
    failed = study.get_trials([tunelab.TrialState.FAIL])
    assert failed and all("warmup_epochs" in r.fail_reason for r in failed)
    assert {r.params["warmup_epochs"] for r in failed} == {5}
    assert len(study.get_trials([tunelab.TrialState.COMPLETE])) == 6 - len(failed)


@pytest.mark.parametrize(
    ("objective", "options", "words"),
    [
        (lambda trial: 0.0, {}, "not one: pass a tunelab.torch.Task"),
        (task(), {"fuse": 0}, "positive integer"),
        (task(), {"executor": object()}, "not on a Dask cluster"),
    ],
)
def test_fuse_is_refused_where_it_cannot_work(objective, options, words, tmp_path):
    study = tunelab.create_study(storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(ConfigError, match=words):
        study.optimize(objective, n_trials=1, **{"fuse": 2, **options})
    assert study.trials == []


@pytest.mark.any_cpu_math
def test_populations_train_in_worker_processes(tmp_path):
    study = tunelab.create_study(
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}", direction="maximize", sampler="random",
        pruner="none",  # the budget and the workers are tested here, not pruning
    )
    seen: list[int] = []
    study.optimize(task(search={"lr": SEARCH["lr"]}), n_trials=7, fuse=3, n_jobs=2,
                   devices=["cpu"], callbacks=[lambda s, record: seen.append(record.number)])
    trials = study.trials
    assert [r.state for r in trials] == [tunelab.TrialState.COMPLETE] * 7  # the budget, exactly
    assert sorted(seen) == list(range(7))
    workers = {r.system_attrs[WORKER_ATTR] for r in trials}
    # Worker processes, not the parent; how many of the two got work is the scheduler's choice
    # (one that starts late on a busy machine may find the queue empty).
    assert worker_name() not in workers and 1 <= len(workers) <= 2
    assert {r.system_attrs[DEVICE_ATTR] for r in trials} == {"cpu"}


def test_fuse_refuses_a_pruner_that_continues_paused_trials():
    study = tunelab.create_study(pruner={"name": "pbt", "max_resource": 4})
    with pytest.raises(ConfigError, match="continues paused trials"):
        study.optimize(task(), n_trials=2, fuse=2)


def logged_populations(text: str) -> list[int]:
    """The population sizes in the log's "Fused N trials into populations of a, b" line."""
    found = re.search(r"Fused (\d+) trials into populations of (\d+(?:, \d+)*) \(widest", text)
    assert found, text
    sizes = [int(size) for size in found.group(2).split(", ")]
    assert sum(sizes) == int(found.group(1))
    return sizes


def test_a_width_search_trains_populations_of_several_widths(caplog):
    objective = task(
        recipe={"epochs": 1, "batch_size": 128, "optimizer": "sgd"},
        search={"lr": SEARCH["lr"], "model.width": {"low": 16, "high": 256, "log": True}},
    )
    with caplog.at_level(logging.INFO, logger="tunelab"):
        study = run(objective, n_trials=12, fuse=12)
    sizes = logged_populations(caplog.text)
    widths = {r.params["model.width"] for r in study.trials}
    # Seed 0 draws 12 widths from 28 to 232, which form populations of 8 and 4 (widths 232 to
    # 66, 37 to 28): no member is padded past 4 times its weights.
    assert len(widths) == 12 and max(sizes) > 1 and len(sizes) < 12
    assert tunelab.TrialState.FAIL not in {r.state for r in study.trials}


@pytest.mark.filterwarnings("ignore:should_prune")  # pruning is not what this tests
def test_members_report_every_epoch_and_finish_at_once_where_others_read(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study = tunelab.create_study(name="live", storage=url, direction="maximize",
                                 sampler="random", seed=0, pruner="none")
    for epochs in (2, 4, 2, 4):
        study.enqueue_trial({"epochs": epochs})
    seen: list[TrialRecord] = []
    train_epoch = PopulationTrainer._train_epoch

    def reading_at_epoch_3(self, epoch, *args):
        if epoch == 3:  # as another process: a storage object of its own on the same file
            seen.extend(tunelab.load_study(name="live", storage=RDBStorage(url)).trials)
        return train_epoch(self, epoch, *args)

    monkeypatch.setattr(PopulationTrainer, "_train_epoch", reading_at_epoch_3)
    study.optimize(task(search={"epochs": [2, 4]}), n_trials=4, fuse=4)
    complete, running = tunelab.TrialState.COMPLETE, tunelab.TrialState.RUNNING
    # While the population trains epoch 3, each member's two reports are stored, and those
    # whose 2 epochs are done are complete trials already.
    assert [(r.state, sorted(r.intermediate_values)) for r in seen] == [
        (complete, [1, 2]), (running, [1, 2]), (complete, [1, 2]), (running, [1, 2])
    ]
    assert [len(read_telemetry(r)) for r in seen] == [2, 2, 2, 2]
    assert [r.state for r in study.trials] == [complete] * 4


def test_a_sequence_model_trains_alone_and_says_why(caplog):
    sequences = task(data={"name": "digits_sequences"}, search={"lr": [0.01, 0.02]},
                     model={"name": "rnn", "hidden_size": 8},
                     recipe={"epochs": 1, "batch_size": 256})
    with caplog.at_level(logging.INFO, logger="tunelab"):
        study = run(sequences, n_trials=2, fuse=2)
    assert "Trial 0 trains alone: fused training does not support the sequence model 'rnn'" in (
        caplog.text)
    assert [r.state for r in study.trials] == [tunelab.TrialState.COMPLETE] * 2
