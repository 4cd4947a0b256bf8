"""Checkpoints: a paused trial continued by another gives the numbers of an uninterrupted run,
no epoch is trained twice, a changed recipe keeps the optimizer's state with the new
hyperparameters, and a missing checkpoint is a clear error."""

from __future__ import annotations

import pytest
import torch

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import BasePruner, PopulationBasedTraining
from tunelab.pruners.base import Continuation, continued_trials
from tunelab.telemetry import read_telemetry
from tunelab.torch import checkpoint
from tunelab.torch.data import DataSplit, load_data
from tunelab.torch.models import build_mlp
from tunelab.torch.recipe import Recipe
from tunelab.torch.task import Task
from tunelab.torch.trainer import Trainer
from tunelab.trial import Resume, TrialState

RECIPE = {"epochs": 6, "batch_size": 64, "optimizer": "sgd", "momentum": 0.9, "lr": 0.05,
          "schedule": "cosine"}


@pytest.fixture(scope="module")
def digits() -> DataSplit:
    return load_data({"name": "digits", "test_fraction": 0.2})


class PauseOnce(BasePruner):
    """Pauses trial 0 at ``step``, then hands out one continuation of it with ``params``."""

    resumes_paused = True

    def __init__(self, step: int, params: dict | None = None) -> None:
        self.step, self.params = step, params

    def prune(self, study, trial) -> bool:
        return trial.number == 0 and trial.last_step == self.step

    def next_trial(self, study):
        records = study.trials
        paused = [r for r in records if r.state is TrialState.PRUNED]
        if not paused or paused[0].number in continued_trials(records):
            return None
        return Continuation(paused[0], self.step, self.params or dict(paused[0].params))


def objective_for(data: DataSplit, checkpoint_dir, epochs_trained: list[int]):
    def objective(trial):
        recipe = Recipe(**{**RECIPE, "lr": trial.suggest_float("lr", 0.01, 0.1)})
        torch.manual_seed(0)
        model = build_mlp(data.input_shape[0], data.n_outputs, depth=1, width=32, dropout=0.2)
        trainer = Trainer(model, data, recipe, trial=trial, checkpoint_dir=checkpoint_dir)
        train_epoch = trainer._train_epoch

        def counted(epoch, *args):
            epochs_trained.append(epoch)
            return train_epoch(epoch, *args)

        trainer._train_epoch = counted
        return trainer.fit().best_value

    return objective


def run(data, tmp_path, pruner, n_trials):
    epochs: list[int] = []
    study = tunelab.create_study(direction="maximize", pruner=pruner)
    study.enqueue_trial({"lr": 0.05})
    study.optimize(objective_for(data, tmp_path, epochs), n_trials=n_trials)
    return study, epochs


def test_a_continued_trial_trains_only_the_epochs_left_and_matches_an_uninterrupted_run(
    digits, tmp_path
):
    whole, whole_epochs = run(digits, tmp_path / "a", None, 1)
    split, split_epochs = run(digits, tmp_path / "b", PauseOnce(3), 2)
    paused, continued = split.trials
    assert paused.state is TrialState.PRUNED and continued.state is TrialState.COMPLETE
    assert whole_epochs == [1, 2, 3, 4, 5, 6]
    assert split_epochs == [1, 2, 3, 4, 5, 6]  # epochs 1-3 by trial 0, 4-6 by trial 1
    assert Resume.of(continued) == Resume(0, paused.trial_id, 3, 0, 0)
    assert continued.params == paused.params
    curve = whole.trials[0].intermediate_values
    assert dict(continued.intermediate_values) == pytest.approx(dict(curve), abs=1e-6)
    assert continued.value == pytest.approx(whole.trials[0].value, abs=1e-6)
    assert [e.epoch for e in read_telemetry(continued)] == [1, 2, 3, 4, 5, 6]


def test_a_changed_recipe_keeps_the_optimizer_state_and_takes_the_new_learning_rate(
    digits, tmp_path
):
    study, epochs = run(digits, tmp_path, PauseOnce(2, {"lr": 0.02}), 2)
    assert epochs == [1, 2, 3, 4, 5, 6]
    saved = torch.load(tmp_path / "trial-0.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["optimizer"]["state"]  # momentum buffers were saved
    model = build_mlp(digits.input_shape[0], digits.n_outputs, depth=1, width=32, dropout=0.2)
    trial = study.ask()
    trial._resume = Resume(0, study.trials[0].trial_id, 2, 0, 0)
    trainer = Trainer(model, digits, Recipe(**{**RECIPE, "lr": 0.02}), trial=trial,
                      checkpoint_dir=tmp_path)
    trainer._resume(torch.Generator(), *_fresh_state(trainer))
    buffers = [s["momentum_buffer"] for s in trainer.optimizer.state_dict()["state"].values()]
    assert all(torch.equal(a, b["momentum_buffer"])
               for a, b in zip(buffers, saved["optimizer"]["state"].values()))
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.02)


def _fresh_state(trainer):
    from tunelab.torch.schedules import PlateauReducer
    from tunelab.torch.trainer import BestTracker

    return PlateauReducer(trainer.recipe, True), BestTracker(True, 0.0), []


def test_a_missing_checkpoint_is_a_config_error_that_says_what_to_do(digits, tmp_path):
    study = tunelab.create_study(direction="maximize", pruner=PauseOnce(2))
    study.optimize(objective_for(digits, tmp_path, []), n_trials=1)
    (tmp_path / "trial-0.pt").unlink()
    with pytest.raises(ConfigError, match="trial-0.pt does not exist") as caught:
        study.optimize(objective_for(digits, tmp_path, []), n_trials=1, catch=())
    assert caught.value.field == "checkpoint_dir"


def test_a_task_study_with_population_based_training_carries_members_on_from_checkpoints(
    tmp_path,
):
    task = Task(
        {
            "data": {"name": "iris"},
            "model": {"name": "mlp", "depth": 1, "width": 8},
            "recipe": {"epochs": 4, "batch_size": 32},
            "search": {"lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True}},
            "artifacts": str(tmp_path),
        }
    )
    pruner = PopulationBasedTraining(
        max_resource=4, population_size=2, interval=2, quantile=0.5, seed=0
    )
    study = tunelab.create_study(
        name="pbt", direction=task.direction, sampler={"name": "random", "seed": 0}, pruner=pruner
    )
    study.optimize(task, n_trials=pruner.n_trials)
    paused = [r for r in study.trials if r.state is TrialState.PRUNED]
    complete = [r for r in study.trials if r.state is TrialState.COMPLETE]
    assert len(paused) == 2 and len(complete) == 2
    # Only the paused members leave checkpoints: nothing continues the completing ones.
    assert sorted(p.name for p in (tmp_path / "pbt" / "checkpoints").iterdir()) == [
        "trial-0.pt", "trial-1.pt"]
    assert [r.system_attrs.get("checkpoint_step") for r in study.trials] == [2, 2, None, None]
    for record in complete:
        assert Resume.of(record).step == 2
        assert [e.epoch for e in read_telemetry(record)] == [1, 2, 3, 4]
        assert record.user_attrs["epochs_run"] == 4
    exploit = [r for r in complete if "copied_from" in r.system_attrs["pbt"]]
    assert len(exploit) == 1  # the worse member took the better one's weights


@pytest.mark.parametrize(
    ("options", "saved"),
    [({}, []),  # a median pruner never continues a trial: no checkpoint is worth writing
     ({"heartbeat_interval": 60, "max_retries": 1}, [1, 2, 3, 4, 5])],  # a retry could use one
)
def test_checkpoints_are_written_only_when_a_trial_could_be_continued(
    digits, tmp_path, monkeypatch, options, saved
):
    epochs_saved = []
    save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda state, path: epochs_saved.append(
        state.epoch) or save(state, path))
    study = tunelab.create_study(direction="maximize", pruner="median", **options)
    study.optimize(objective_for(digits, tmp_path, []), n_trials=1)
    assert epochs_saved == saved  # every epoch but the last (6), or none
    assert study.trials[0].system_attrs.get("checkpoint_step") == (saved[-1] if saved else None)
