"""A trial's costs measured, its limits judged, and the warning for a limit out of reach.
Times are given (epoch telemetry written here) or read from a fake clock: no test depends on
how fast this machine is."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

import tunelab
from tunelab._attrs import COSTS_ATTR
from tunelab.exceptions import ConfigError
from tunelab.telemetry import EpochTelemetry
from tunelab.torch import costs
from tunelab.torch.costs import (
    LATENCY_RUNS,
    Limits,
    UnmetLimitWarning,
    count_flops,
    count_parameters,
    inference_latency_ms,
    model_costs,
    training_costs,
)


def epoch(number: int, seconds: float, memory: float = 100.0) -> EpochTelemetry:
    return EpochTelemetry(
        epoch=number, train_loss=1.0, val_loss=1.0, train_metric=0.5, val_metric=0.5, lr=0.1,
        epoch_time=seconds, peak_memory_mb=memory,
    )


def test_training_costs_sum_and_average_the_epochs_and_take_the_peak_memory() -> None:
    history = [epoch(1, 1.0, 100.0), epoch(2, 2.0, 300.0), epoch(3, 3.0, 200.0)]
    assert training_costs(history) == {
        "train_seconds": 6.0, "train_seconds_per_epoch": 2.0, "peak_memory": 300.0
    }
    assert training_costs([]) == {
        "train_seconds": 0.0, "train_seconds_per_epoch": 0.0, "peak_memory": 0.0
    }


def test_limits_sort_costs_of_the_model_from_those_of_the_training() -> None:
    limits = Limits.parse({"parameters": "50k", "train_seconds_per_epoch": "2s",
                           "peak_memory": "1GB", "inference_latency": 5})
    assert limits.bounds == {"parameters": 50000.0, "train_seconds_per_epoch": 2.0,
                             "peak_memory": 1024.0, "inference_latency": 5.0}
    assert limits.on_model == ("parameters", "inference_latency")
    assert limits.on_training == ("train_seconds_per_epoch", "peak_memory")
    assert not Limits.parse(None)


def test_a_limit_is_a_relative_constraint_and_a_breach_says_which_and_when() -> None:
    limits = Limits.parse({"parameters": 100, "train_seconds": 10})
    costs = {"parameters": 150.0, "train_seconds": 5.0}
    assert limits.constraints(costs) == {"parameters": 0.5, "train_seconds": -0.5}
    assert limits.constraints({"parameters": 80.0}) == {"parameters": pytest.approx(-0.2)}
    breach = limits.breach(costs, "refused before training")
    assert breach is not None and breach.name == "parameters"
    assert str(breach) == (
        "parameters 150 is over the limit 100 (refused before training)"
    )
    assert limits.breach({"parameters": 100.0}, "now") is None  # at the limit is within it


def test_the_training_breaks_a_limit_on_what_it_measured_so_far() -> None:
    per_epoch = Limits.parse({"train_seconds_per_epoch": 2.0})
    history = [epoch(1, 1.0), epoch(2, 2.0), epoch(3, 3.0)]
    assert per_epoch.training_breach(history[:3], 10) is None  # mean 2.0
    breach = per_epoch.training_breach([*history, epoch(4, 4.0)], 10)  # mean 2.5
    assert breach is not None
    assert (breach.value, breach.when) == (2.5, "training stopped after epoch 4 of 10")
    memory = Limits.parse({"peak_memory": "150MB"})
    assert memory.training_breach([epoch(1, 1.0, 100.0), epoch(2, 1.0, 200.0)], 5) is not None
    assert Limits.parse({"parameters": 5}).training_breach(history, 10) is None


def test_limits_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"limits: \[1\] must be a mapping of costs"):
        Limits.parse([1])


def test_the_model_costs_are_its_parameters_flops_and_latency() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model[0].weight.requires_grad_(False)  # frozen weights are not trainable parameters
    batch = torch.randn(16, 4)

    assert count_parameters(model) == 8 + 8 * 3 + 3
    assert count_flops(model, batch[:1]) == 2 * (4 * 8 + 8 * 3)  # two per multiply-add
    assert model.training  # measuring leaves the model in the mode it was in
    assert inference_latency_ms(model, batch) > 0.0
    costs = model_costs(model, ["flops", "parameters", "train_seconds"], batch[:1], batch)
    assert costs == {"flops": 112.0, "parameters": 35.0}


def test_latency_is_the_median_of_timed_runs_after_one_untimed(monkeypatch) -> None:
    ticks = iter(range(100))
    monkeypatch.setattr(costs, "clock", lambda: next(ticks) ** 2)
    calls = []
    model = nn.Linear(2, 2)
    model.register_forward_hook(lambda *args: calls.append(1))

    latency = inference_latency_ms(model, torch.zeros(3, 2))

    assert len(calls) == LATENCY_RUNS + 1
    # The untimed run reads tick 0; timed run k reads ticks 2k - 1 and 2k, so it takes
    # (2k)^2 - (2k - 1)^2 = 4k - 1: 3, 7, 11, 15 and 19 seconds.
    assert latency == 11_000.0


def finished(study: tunelab.Study, parameters: float) -> None:
    trial = study.ask()
    trial.set_user_attr(COSTS_ATTR, {"parameters": parameters})
    study.tell(trial, 1.0)


def test_a_limit_no_trial_meets_is_warned_of_once_with_the_smallest_value(caplog) -> None:
    study = tunelab.create_study(name="unmet")
    warning = UnmetLimitWarning(Limits.parse({"parameters": 100}), after=3)
    caplog.set_level(logging.WARNING, logger="tunelab")
    for parameters in (500.0, 300.0):
        finished(study, parameters)
        warning(study, study.trials[-1])
    assert not caplog.records
    for parameters in (400.0, 250.0):
        finished(study, parameters)
        warning(study, study.trials[-1])

    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage() == (
        "Study 'unmet': none of the 3 trials that measured parameters met its limit 100; the "
        "smallest was 300. If no configuration of the search can meet it, raise the limit or "
        "search smaller models."
    )


def test_no_warning_once_a_trial_met_the_limit_earlier_runs_included(caplog) -> None:
    study = tunelab.create_study(name="met")
    finished(study, 50.0)  # an earlier run's trial, met the limit
    warning = UnmetLimitWarning(Limits.parse({"parameters": 100}), after=2)
    caplog.set_level(logging.WARNING, logger="tunelab")
    for parameters in (500.0, 300.0, 400.0):
        finished(study, parameters)
        warning(study, study.trials[-1])
    assert not caplog.records
