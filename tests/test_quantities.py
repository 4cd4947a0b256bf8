"""Costs a task can measure: limits read with their units, names shown with theirs. Every
number here is given, none is measured: these tests time nothing."""

from __future__ import annotations

import pytest

from tunelab.exceptions import ConfigError
from tunelab.quantities import COSTS, describe, labelled, parse_limit


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("peak_memory", 512, 512.0),
        ("peak_memory", "512MB", 512.0),
        ("peak_memory", "1.5 GB", 1536.0),
        ("peak_memory", "2gb", 2048.0),
        ("train_seconds", 90, 90.0),
        ("train_seconds_per_epoch", "2.5s", 2.5),
        ("train_seconds_per_epoch", "300ms", 0.3),
        ("inference_latency", 5, 5.0),
        ("inference_latency", "0.01s", 10.0),
        ("parameters", 50000, 50000.0),
        ("parameters", "50k", 50000.0),
        ("flops", "2M", 2e6),
        ("flops", "1e6", 1e6),
    ],
)
def test_a_limit_is_read_in_its_costs_unit(name: str, value: object, expected: float) -> None:
    cost, bound = parse_limit(name, value, f"limits.{name}")
    assert cost.name == name
    assert bound == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "value", "fragments"),
    [
        ("peak_memory", "512ms", ["limits.peak_memory", "'ms'", "does not measure peak_memory",
                                  "MB (a number alone) or GB"]),
        ("train_seconds", "2MB", ["'MB'", "does not measure train_seconds", "s (a number alone)"]),
        ("parameters", "50 MB", ["'MB'", "a count"]),
        ("train_seconds", "fast", ["'fast' is not a number with a unit", "2.5s"]),
        ("parameters", 0, ["must be a positive bound"]),
        ("peak_memory", "-1GB", ["must be a positive bound"]),
        ("parameters", True, ["must be a number"]),
        ("parameters", [1], ["must be a number"]),
        ("paramters", 5, ["'paramters' is not a cost a limit can bound", "did you mean",
                          "'parameters'"]),
        ("val_accuracy", 0.9, ["not a cost a limit can bound", "the costs are: train_seconds"]),
    ],
)
def test_a_bad_limit_names_the_entry_and_the_fix(
    name: str, value: object, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_limit(name, value, f"limits.{name}")
    assert caught.value.field == f"limits.{name}"
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_names_are_shown_with_their_units_and_others_as_they_are() -> None:
    assert labelled("inference_latency") == "inference_latency (ms)"
    assert labelled("peak_memory") == "peak_memory (MB)"
    assert labelled("train_seconds_per_epoch") == "train_seconds_per_epoch (s)"
    assert labelled("flops") == "flops (FLOPs)"
    assert labelled("parameters") == "parameters"
    assert labelled("val_accuracy") == "val_accuracy"


def test_values_are_described_in_their_units() -> None:
    assert describe("parameters", 81234.0) == "81,234"
    assert describe("train_seconds", 2.5) == "2.5 s"
    assert describe("peak_memory", 512.0) == "512 MB"
    assert describe("flops", 166528.0) == "166,528 FLOPs"


def test_the_costs_of_the_model_are_those_known_before_training() -> None:
    assert [name for name, cost in COSTS.items() if cost.of_model] == [
        "parameters", "flops", "inference_latency"
    ]
