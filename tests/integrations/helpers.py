"""What the integration tests share: the study they run (trials at a learning rate that learns
nothing are pruned, the others complete) and the example scripts."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

import tunelab
from tunelab.analysis.doctor import diagnose_trial
from tunelab.telemetry import read_telemetry
from tunelab.trial import TrialRecord, TrialState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GOOD_LR, SLOW_LR = 1e-2, 1e-6
EPOCHS = 4


def new_study(**options) -> tunelab.Study:
    pruner = tunelab.pruners.ThresholdPruner(lower=0.5, n_warmup_steps=2)
    return tunelab.create_study(direction="maximize", sampler="random", seed=0, pruner=pruner,
                                **options)


def assert_watched_every_epoch(
    trial: TrialRecord, layers: list[str], activation: tuple[str, str], validation_size: int
) -> None:
    """The trial's telemetry has each reported epoch, with gradient norms of ``layers``,
    statistics of the ``activation`` layer (name, kind) and the validation set's size; the
    doctor reads it."""
    epochs = read_telemetry(trial)
    assert [e.epoch for e in epochs] == list(range(1, len(epochs) + 1))
    name, kind = activation
    for epoch in epochs:
        assert epoch.val_metric == pytest.approx(trial.intermediate_values[epoch.epoch])
        assert math.isfinite(epoch.train_loss) and math.isfinite(epoch.val_loss)
        assert 0.0 <= epoch.train_metric <= 1.0
        assert epoch.lr == pytest.approx(trial.params["lr"])  # Keras keeps it in float32
        assert list(epoch.grad_norm) == layers
        assert all(norm > 0 for norm in epoch.grad_norm.values())
        assert list(epoch.activations) == [name]
        assert epoch.activations[name].kind == kind
    assert trial.system_attrs["validation_size"] == validation_size
    assert all(finding.trial == trial.number for finding in diagnose_trial(trial))


def assert_pruned_only_if_slow(trials: list[TrialRecord]) -> None:
    assert {t.params["lr"] for t in trials} == {SLOW_LR, GOOD_LR}
    for trial in trials:
        slow = trial.params["lr"] == SLOW_LR
        assert trial.state is (TrialState.PRUNED if slow else TrialState.COMPLETE)
        assert sorted(trial.intermediate_values) == list(range(1, (2 if slow else EPOCHS) + 1))
        assert len(read_telemetry(trial)) == len(trial.intermediate_values)


def load_example(name: str) -> ModuleType:
    """The example script ``examples/NAME`` as a module, without running its main()."""
    spec = importlib.util.spec_from_file_location(Path(name).stem, EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
