from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tunelab.exceptions import TrialPruned
from tunelab.torch import quickstart

SENSIBLE = {"lr": 3e-3, "optimizer": "adam", "width": 64, "dropout": 0.1, "batch_size": 64}


class FakeTrial:
    """Answers every suggestion with a fixed value, checked against the declared range."""

    def __init__(self, params: dict[str, Any], *, number: int = 0, prune: bool = False) -> None:
        self.params = params
        self.number = number
        self.prune = prune
        self.suggested: list[str] = []
        self.reports: list[tuple[int, float]] = []

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return self._suggest(name, low <= self.params[name] <= high)

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        return self._suggest(name, low <= self.params[name] <= high)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._suggest(name, self.params[name] in choices)

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return self.prune

    def _suggest(self, name: str, in_range: bool) -> Any:
        assert in_range, f"{name}={self.params[name]!r} lies outside the objective's space"
        self.suggested.append(name)
        return self.params[name]


def test_sensible_configuration_reaches_high_accuracy():
    trial = FakeTrial(SENSIBLE)

    accuracy = quickstart.objective(trial)

    assert accuracy >= 0.9
    assert accuracy == max(value for _, value in trial.reports)


def test_every_epoch_is_reported_as_a_step():
    trial = FakeTrial(SENSIBLE)

    quickstart.objective(trial)

    assert [step for step, _ in trial.reports] == list(range(1, quickstart.EPOCHS + 1))


def test_momentum_is_suggested_only_for_sgd():
    adam = FakeTrial({**SENSIBLE, "batch_size": 128, "width": 16})
    sgd = FakeTrial({**SENSIBLE, "optimizer": "sgd", "momentum": 0.9, "batch_size": 128})

    quickstart.objective(adam)
    quickstart.objective(sgd)

    assert "momentum" not in adam.suggested
    assert "momentum" in sgd.suggested


def test_same_trial_number_gives_the_same_value():
    params = {**SENSIBLE, "batch_size": 128, "width": 16, "dropout": 0.3}

    first = quickstart.objective(FakeTrial(params, number=7))
    second = quickstart.objective(FakeTrial(params, number=7))

    assert first == second


def test_pruning_request_stops_the_trial_after_its_first_report():
    trial = FakeTrial(SENSIBLE, prune=True)

    with pytest.raises(TrialPruned):
        quickstart.objective(trial)
    assert len(trial.reports) == 1


def test_study_name_is_stable():
    assert quickstart.QUICKSTART_STUDY_NAME == "quickstart-digits-mlp"
