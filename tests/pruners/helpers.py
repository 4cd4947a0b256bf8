"""Hand-made trial histories for pruner tests."""

from __future__ import annotations

from collections.abc import Sequence

import tunelab
from tunelab.pruners import BasePruner


def history_study(
    completed: Sequence[Sequence[float]], direction: str = "minimize"
) -> tunelab.Study:
    """A study whose COMPLETE trials reported ``completed[i][step]`` at each step."""
    study = tunelab.create_study(direction=direction)
    for history in completed:
        trial = study.ask()
        for step, value in enumerate(history):
            trial.report(value, step=step)
        study.tell(trial, history[-1] if history else 0.0)
    return study


def decide(
    pruner: BasePruner, study: tunelab.Study, reported: dict[int, float] | Sequence[float]
) -> bool:
    """``should_prune()`` of a new running trial that reported ``reported`` (by step)."""
    steps = reported if isinstance(reported, dict) else dict(enumerate(reported))
    study.pruner = pruner
    trial = study.ask()
    for step, value in steps.items():
        trial.report(value, step=step)
    return trial.should_prune()
