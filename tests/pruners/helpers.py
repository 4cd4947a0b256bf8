"""Hand-made trial histories for pruner tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def converging_study(
    pruner: BasePruner | dict[str, Any], finals: Sequence[float], last_step: int
) -> tunelab.Study:
    """A study of ``len(finals)`` trials in which trial ``n`` reports ``finals[n] + 1 / step``
    at steps 1 to ``last_step`` (lower is better), stopping when pruned, and returns
    ``finals[n]`` if it gets to the end."""

    def objective(trial: tunelab.Trial) -> float:
        final = finals[trial.number]
        for step in range(1, last_step + 1):
            trial.report(final + 1.0 / step, step=step)
            if trial.should_prune():
                raise tunelab.TrialPruned()
        return final

    study = tunelab.create_study(pruner=pruner)
    study.optimize(objective, n_trials=len(finals))
    return study
