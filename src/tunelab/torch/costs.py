"""A trial's costs (:mod:`tunelab.quantities`), measured, and the limits a task holds them to.

Costs of the model are measured on the built model: its trainable parameters, the FLOPs of one
sample's forward pass (as ``torch.utils.flop_counter`` counts them), and the inference latency,
the median of :data:`LATENCY_RUNS` timed forward passes on one validation batch of the recipe's
batch size, on the trial's device, in eval mode and without autocast, after one untimed pass.
Costs of the training are read from its epochs' telemetry: the sum and the mean of the epoch
times, and the highest peak memory.

A :class:`Limits` holds a bound per cost. A task checks the limits on costs of the model before
the model trains, and the trainer checks those on costs of the training after every epoch, so
that a run over one stops at the end of the epoch in which it went over (:class:`Breach`).
Each limit is also the trial's named constraint ``value / limit - 1``, ``<= 0`` when it is met:
a relative excess, so that a sampler summing violations weighs seconds and parameters alike.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tunelab._attrs import COSTS_ATTR
from tunelab.exceptions import ConfigError
from tunelab.quantities import COSTS, describe, parse_limit
from tunelab.telemetry import EpochTelemetry
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

LATENCY_RUNS = 5
# What epochs and forward passes are timed with: one name, which tests replace to make time
# deterministic.
clock = time.perf_counter
UNMET_AFTER = 10
TRAINING_COSTS = tuple(name for name, cost in COSTS.items() if not cost.of_model)
MODEL_COSTS = tuple(name for name, cost in COSTS.items() if cost.of_model)

logger = logging.getLogger("tunelab")


@dataclass(frozen=True)
class Breach:
    """A limit a trial went over: the cost, its value, the limit, and when it was seen."""

    name: str
    value: float
    limit: float
    when: str

    def __str__(self) -> str:
        return (
            f"{self.name} {describe(self.name, self.value)} is over the limit "
            f"{describe(self.name, self.limit)} ({self.when})"
        )


@dataclass(frozen=True)
class Limits:
    """Bounds on costs, each in its cost's unit (see :mod:`tunelab.quantities`)."""

    bounds: Mapping[str, float]

    @classmethod
    def parse(cls, spec: Any, field: str = "limits") -> Limits:
        """The limits of a task's ``limits`` mapping (None: none), units read; a ConfigError
        naming the entry otherwise."""
        if spec is None:
            return cls({})
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"{field}: {spec!r} must be a mapping of costs to bounds, e.g. "
                "{parameters: 50000, train_seconds_per_epoch: 2.0, peak_memory: 512MB}.",
                field=field,
            )
        bounds = {}
        for name, value in spec.items():
            cost, bound = parse_limit(name, value, f"{field}.{name}")
            bounds[cost.name] = bound
        return cls(bounds)

    def __bool__(self) -> bool:
        return bool(self.bounds)

    @property
    def on_model(self) -> tuple[str, ...]:
        """The limited costs of the model, checked before it trains."""
        return tuple(name for name in self.bounds if name in MODEL_COSTS)

    @property
    def on_training(self) -> tuple[str, ...]:
        """The limited costs of the training, checked after every epoch."""
        return tuple(name for name in self.bounds if name in TRAINING_COSTS)

    def breach(self, costs: Mapping[str, float], when: str) -> Breach | None:
        """The first limit that ``costs`` go over (costs not measured are not judged)."""
        for name, limit in self.bounds.items():
            if name in costs and costs[name] > limit:
                return Breach(name, costs[name], limit, when)
        return None

    def training_breach(self, history: Sequence[EpochTelemetry], epochs: int) -> Breach | None:
        """The first limit on the training that the epochs so far go over; None when there
        is none, or no such limit."""
        if not self.on_training or not history:
            return None
        costs = training_costs(history)
        return self.breach(
            {name: costs[name] for name in self.on_training},
            f"training stopped after epoch {len(history)} of {epochs}",
        )

    def constraints(self, costs: Mapping[str, float]) -> dict[str, float]:
        """Each measured limited cost as a constraint value, ``value / limit - 1``."""
        return {
            name: costs[name] / limit - 1.0 for name, limit in self.bounds.items() if name in costs
        }


def training_costs(history: Sequence[EpochTelemetry]) -> dict[str, float]:
    """The costs of a training, from its epochs: zero for a model that never trained."""
    seconds = sum(epoch.epoch_time for epoch in history)
    return {
        "train_seconds": seconds,
        "train_seconds_per_epoch": seconds / len(history) if history else 0.0,
        "peak_memory": max((epoch.peak_memory_mb for epoch in history), default=0.0),
    }


def model_costs(
    model: nn.Module, names: Iterable[str], sample: torch.Tensor, batch: torch.Tensor
) -> dict[str, float]:
    """The costs of the model among ``names``: ``sample`` is one input (with its batch
    dimension), ``batch`` a validation batch for the latency."""
    measure = {
        "parameters": lambda: float(count_parameters(model)),
        "flops": lambda: float(count_flops(model, sample)),
        "inference_latency": lambda: inference_latency_ms(model, batch),
    }
    return {name: measure[name]() for name in names if name in measure}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, sample: torch.Tensor) -> int:
    """The FLOPs of one forward pass on ``sample``, as torch's FLOP counter counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    with _evaluating(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(sample.to(_device_of(model)))
    return int(counter.get_total_flops())


def inference_latency_ms(model: nn.Module, batch: torch.Tensor) -> float:
    """The median time in milliseconds of :data:`LATENCY_RUNS` forward passes on ``batch``,
    on the model's device, after one untimed pass (which pays for first-call set-up)."""
    device = _device_of(model)
    batch = batch.to(device)
    times = []
    with _evaluating(model), torch.no_grad():
        for run in range(LATENCY_RUNS + 1):
            _synchronize(device)
            started = clock()
            model(batch)
            _synchronize(device)
            if run > 0:
                times.append(clock() - started)
    return 1e3 * statistics.median(times)


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """The model in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class UnmetLimitWarning:
    """A callback for ``study.optimize`` that warns, once per limit, when none of the first
    ``after`` trials that measured a limited cost met its limit, with the smallest value seen:
    the limit is then likely out of the search space's reach, and every further trial is
    spent on infeasible configurations. It reads the costs the trials stored (their user
    attribute ``costs``), the study's earlier trials included."""

    def __init__(self, limits: Limits, after: int = UNMET_AFTER) -> None:
        self.limits = limits
        self.after = after
        self.values: dict[str, list[float]] = {name: [] for name in limits.bounds}
        self.warned: set[str] = set()
        self.seen: set[int] = set()

    def __call__(self, study: Study, record: TrialRecord) -> None:
        if not self.seen:  # the first call also reads the trials of earlier runs
            for earlier in study.get_trials((TrialState.COMPLETE,)):
                self._note(earlier)
        self._note(record)
        for name, limit in self.limits.bounds.items():
            values = self.values[name]
            if name in self.warned or len(values) < self.after or min(values) <= limit:
                continue
            self.warned.add(name)
            logger.warning(
                "Study %r: none of the %d trials that measured %s met its limit %s; the "
                "smallest was %s. If no configuration of the search can meet it, raise the "
                "limit or search smaller models.",
                study.study_name, len(values), name, describe(name, limit),
                describe(name, min(values)),
            )

    def _note(self, record: TrialRecord) -> None:
        if record.number in self.seen or record.state is not TrialState.COMPLETE:
            return
        self.seen.add(record.number)
        costs = record.user_attrs.get(COSTS_ATTR)
        if not isinstance(costs, dict):
            return
        for name, values in self.values.items():
            if name in costs:
                values.append(float(costs[name]))
