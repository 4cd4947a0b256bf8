"""Learning-rate schedules as plain functions of training progress.

The factor that multiplies each parameter group's learning rate is computed from the optimizer
step and the epoch length, not kept in a chain of stateful scheduler objects: the value at any
point is then easy to test, identical after resuming from a checkpoint, and one warm-up rule
combines with every schedule. Only reduce-on-plateau depends on what happened (the validation
metric), so it alone keeps state.

Warm-up ramps the factor linearly from ``1/warmup_steps`` to 1 over ``warmup_epochs``; the
chosen schedule then runs over the remaining epochs as if training started there.
"""

from __future__ import annotations

import math

from tunelab.torch.recipe import Recipe

# One-cycle constants as in Smith & Topin (2019) and PyTorch's OneCycleLR: start at 1/25 of the
# peak, end at 1/25 of that divided by 1e4.
ONECYCLE_START = 1.0 / 25.0
ONECYCLE_END = ONECYCLE_START / 1e4


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """The factor for optimizer step ``step`` (0-based) of a run with ``steps_per_epoch``."""
    assert step >= 0 and steps_per_epoch >= 1
    warmup_steps = round(recipe.warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    after_warmup = step - warmup_steps
    total = recipe.epochs * steps_per_epoch - warmup_steps
    return _schedule_factor(recipe, after_warmup, total, steps_per_epoch)


def moves_within_epochs(recipe: Recipe) -> bool:
    """Whether the factor changes within an epoch: during warm-up, and for the cosine and
    one-cycle schedules; the others change it between epochs only."""
    return recipe.warmup_epochs > 0 or recipe.schedule in ("cosine", "onecycle")


def _schedule_factor(recipe: Recipe, step: int, total: int, steps_per_epoch: int) -> float:
    epoch = step // steps_per_epoch
    progress = min(step / max(total, 1), 1.0)
    if recipe.schedule == "step":
        return recipe.gamma ** (epoch // recipe.step_size)
    if recipe.schedule == "exponential":
        return recipe.gamma**epoch
    if recipe.schedule == "cosine":
        return _cosine_between(1.0, recipe.min_lr_ratio, progress)
    if recipe.schedule == "onecycle":
        return _onecycle(progress, recipe.onecycle_pct)
    assert recipe.schedule in ("constant", "plateau")
    return 1.0


def _cosine_between(start: float, end: float, progress: float) -> float:
    return end + (start - end) * (1.0 + math.cos(math.pi * progress)) / 2.0


def _onecycle(progress: float, rise_fraction: float) -> float:
    if progress < rise_fraction:
        return _cosine_between(ONECYCLE_START, 1.0, progress / rise_fraction)
    fall = (progress - rise_fraction) / (1.0 - rise_fraction)
    return _cosine_between(1.0, ONECYCLE_END, fall)


class PlateauReducer:
    """Multiply the learning rate by ``gamma`` after ``plateau_patience`` epochs without progress.

    ``higher_is_better`` says which way the watched metric improves. Inactive (factor 1 forever)
    unless the recipe's schedule is ``plateau``.
    """

    def __init__(self, recipe: Recipe, higher_is_better: bool) -> None:
        self.active = recipe.schedule == "plateau"
        self.gamma = recipe.gamma
        self.patience = recipe.plateau_patience
        self.sign = 1.0 if higher_is_better else -1.0
        self.best = -math.inf
        self.epochs_without_progress = 0
        self.factor = 1.0

    def end_epoch(self, metric: float) -> float:
        """Record the epoch's metric; return the factor for the next epoch."""
        if not self.active:
            return self.factor
        score = self.sign * metric
        if score > self.best:
            self.best = score
            self.epochs_without_progress = 0
        else:
            self.epochs_without_progress += 1
            if self.epochs_without_progress >= self.patience:
                self.factor *= self.gamma
                self.epochs_without_progress = 0
        return self.factor

    def state(self) -> dict[str, float]:
        """What a checkpoint keeps of the reducer."""
        return {
            "best": self.best,
            "epochs_without_progress": self.epochs_without_progress,
            "factor": self.factor,
        }

    def restore(self, state: dict[str, float]) -> None:
        self.best = state["best"]
        self.epochs_without_progress = int(state["epochs_without_progress"])
        self.factor = state["factor"]
