"""Fused population training: many small trials trained as one vectorized model.

Trials whose models share an architecture differ only in numbers (learning rate, momentum,
weight decay, dropout rate, init scale, ...). Trained one by one, a small model leaves most of
the hardware idle and pays Python's and the framework's overhead on every step; stacked into
one network (:mod:`~tunelab.torch.fused.network`) and trained as a population
(:mod:`~tunelab.torch.fused.trainer`), K of them cost little more than one. This follows HFTA
(Wang et al., "Horizontally Fused Training Array", MLSys 2021), which fuses jobs of the same
shape into one; tunelab fuses a study's trials and keeps each one an ordinary trial.

:func:`train_trials` is what ``study.optimize(task, fuse=K)`` runs on each batch of K trials.
It groups them by what one fused step must share:

* the architecture up to widths (:func:`architecture_signature`): the same layers, in the
  same order, with the same settings, so models of another depth, kernel size or activation
  form other groups. Models that differ only in widths (units of Linear layers, channels of
  convolutions, and the matching batch-norm and PReLU sizes) fuse, each member zero-padded to
  the widest and masked so that it computes what it would alone
  (:mod:`~tunelab.torch.fused.padding`);
* the recipe settings of :data:`~tunelab.torch.fused.trainer.SHARED_FIELDS`, batch size
  among them: members step together through batches of one size, so a study that searches the
  batch size forms a group per size (a shared schedule of steps would change what a member
  computes alone).

Padding costs arithmetic, so each group is split by cost (weights) into populations in which
no member is padded to more than :data:`~tunelab.torch.fused.padding.MAX_PADDING` times its own
weights (:func:`~tunelab.torch.fused.padding.plan_populations`): a width-16 member does not
pay for a width-256 one. The populations formed are logged (logger ``tunelab``, info). What
cannot fuse trains alone, saying why (a sequence model or another layer fused training does
not know, cross-validation, transfer learning, mixed precision or another speed setting, data
streamed from disk, a trial continuing a paused one); so does a population of one, which gains
nothing. A population that runs out of device memory before its first report starts over as
two halves.

A task's limits hold as they do one trial at a time: a member whose model is over a limit on
the model's costs never joins a population, and one over a limit on the training's leaves its
population at the end of that epoch. A member's costs of the model (parameters, FLOPs,
inference latency) are its own model's; its training time is its share of the population's
(see :mod:`tunelab.torch.fused.trainer`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tunelab.torch.data import DataSplit
from tunelab.torch.fused.network import FusedNetwork, FusionError
from tunelab.torch.fused.padding import (
    architecture_signature,
    own_shapes,
    plan_populations,
    widest,
    widest_layer,
)
from tunelab.torch.fused.trainer import (
    PopulationTrainer,
    fusion_blocker,
    member_losses,
    shared_settings,
)
from tunelab.torch.models import SEQUENCE_MODELS
from tunelab.torch.recipe import Recipe
from tunelab.torch.trainer import FitResult

__all__ = [
    "FusedNetwork",
    "FusionError",
    "PopulationTrainer",
    "architecture_signature",
    "member_losses",
    "train_trials",
]

logger = logging.getLogger("tunelab")

Finish = Callable[[Any, Any], None]


@dataclass(frozen=True)
class _Member:
    trial: Any
    recipe: Recipe
    model_options: Mapping[str, Any]
    model: nn.Module

    def fresh(self, task: Any) -> _Member:
        """The member with its model built again, untrained."""
        return dataclasses.replace(self, model=task.seeded_model(self.model_options, self.recipe))


def train_trials(task: Any, trials: Sequence[Any], finish: Finish) -> None:
    """Train the trials of a declarative ``task``, fusing those that can train together.

    ``finish(trial, outcome)`` is called once per trial as it ends, with its value or the
    exception it ended with (a TrialPruned, or the error that failed it).
    """
    task.use_threads()
    groups: dict[tuple[object, ...], list[_Member]] = {}
    for trial in trials:
        try:
            member = _prepare(task, trial)
            refused = None if member is None else task.refuse_over_limit(
                trial, member.model, member.recipe
            )
        except Exception as error:  # a bad suggestion fails its own trial, as it would alone
            finish(trial, error)
            continue
        if member is None:
            _train_alone(task, trial, finish)
            continue
        if refused is not None:
            finish(trial, refused)
            continue
        key = (architecture_signature(member.model), shared_settings(member.recipe))
        groups.setdefault(key, []).append(member)
    populations = [population for members in groups.values()
                   for population in _split_by_width(members)]
    if populations:
        _log_populations(populations)
    for population in populations:
        _train_group(task, population, finish)


def _split_by_width(members: list[_Member]) -> list[list[_Member]]:
    """Members of one group as populations whose padding stays bounded, widest first."""
    parameters = [name for name, _ in members[0].model.named_parameters()]
    shapes = [own_shapes(member.model) for member in members]
    plan = plan_populations(shapes, parameters)
    return [[members[index] for index in population] for population in plan]


def _log_populations(populations: list[list[_Member]]) -> None:
    sizes = [len(population) for population in populations]
    widths = [widest_layer(widest([own_shapes(m.model) for m in population]))
              for population in populations]
    logger.info(
        "Fused %d trials into populations of %s (widest layers %s units).",
        sum(sizes), ", ".join(map(str, sizes)), ", ".join(map(str, widths)),
    )


def _prepare(task: Any, trial: Any) -> _Member | None:
    """The trial's recipe and fresh model, or None (logged) when it must train alone."""
    recipe, model_options = task.suggest(trial)
    reason = _alone_reason(task, trial, recipe)
    if reason is not None:
        logger.info("Trial %d trains alone: %s.", trial.number, reason)
        return None
    recipe = task.trial_recipe(recipe, trial)
    return _Member(trial, recipe, model_options, task.seeded_model(model_options, recipe))


def _alone_reason(task: Any, trial: Any, recipe: Recipe) -> str | None:
    model = str(task.model_spec.get("name", "")).lower()
    if model in SEQUENCE_MODELS:
        return f"fused training does not support the sequence model {model!r}"
    if not isinstance(task.data, DataSplit):
        return "its data are streamed from disk, and fused training reads them from memory"
    if task.cv is not None:
        return "cross-validation trains a model per fold"
    if getattr(trial, "resume", None) is not None:
        return "it continues a paused trial from its checkpoint"
    blocker = fusion_blocker(recipe)
    return None if blocker is None else f"fused training does not support {blocker}"


def _train_group(task: Any, members: list[_Member], finish: Finish) -> None:
    if len(members) == 1:  # a population of one gains nothing over the ordinary trainer
        _train_alone(task, members[0].trial, finish)
        return
    try:
        trainer = PopulationTrainer(
            [m.model for m in members],
            task.data,
            [m.recipe for m in members],
            trials=[m.trial for m in members],
            artifact_dirs=[task.artifact_dir(m.trial) for m in members],
            limits=task.limits,
        )
    except FusionError as error:
        numbers = ", ".join(str(m.trial.number) for m in members)
        logger.warning("Trials %s train one by one: %s", numbers, error)
        for member in members:
            _train_alone(task, member.trial, finish)
        return
    except torch.OutOfMemoryError:
        trainer = None
    except Exception as error:  # a configuration every member shares fails them all
        for member in members:
            finish(member.trial, error)
        return
    if trainer is not None and _fits(trainer, members, task, finish):
        return
    del trainer  # its stacked weights go before the halves take the device
    _train_halves(task, members, finish)


def _fits(
    trainer: PopulationTrainer, members: list[_Member], task: Any, finish: Finish
) -> bool:
    """Train the population; False if it ran out of device memory before any member
    reported, so that it can start over in smaller parts."""

    def done(index: int, outcome: FitResult | BaseException) -> None:
        member = members[index]
        if isinstance(outcome, FitResult):
            outcome = task.trial_value(member.trial, outcome, member.model, member.recipe)
        finish(member.trial, outcome)

    try:
        trainer.fit(done)
    except torch.OutOfMemoryError:
        if trainer.epochs_reported:  # its trials hold reports: they cannot start over
            raise
        return False
    return True


def _train_halves(task: Any, members: list[_Member], finish: Finish) -> None:
    """A population too large for the device's memory, trained as two, from fresh weights."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    half = len(members) // 2
    logger.warning(
        "A population of %d trials ran out of device memory; training it as %d and %d.",
        len(members), half, len(members) - half,
    )
    for part in (members[:half], members[half:]):
        _train_group(task, [member.fresh(task) for member in part], finish)


def _train_alone(task: Any, trial: Any, finish: Finish) -> None:
    try:
        value = task(trial)
    except Exception as error:  # TrialPruned included; Ctrl-C goes up to the study
        finish(trial, error)
        return
    finish(trial, value)
