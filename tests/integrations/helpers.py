"""What the integration tests share: the study they run (trials at a learning rate that learns
nothing are pruned, the others complete) and the example scripts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import tunelab
from tunelab.telemetry import read_telemetry
from tunelab.trial import TrialRecord, TrialState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GOOD_LR, SLOW_LR = 1e-2, 1e-6
EPOCHS = 4


def new_study(**options) -> tunelab.Study:
    pruner = tunelab.pruners.ThresholdPruner(lower=0.5, n_warmup_steps=2)
    return tunelab.create_study(direction="maximize", sampler="random", seed=0, pruner=pruner,
                                **options)


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
