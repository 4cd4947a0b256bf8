"""Distributions: validation, membership, JSON form and the mapping to and from [0, 1]."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import numpy as np
import pytest

from tunelab.exceptions import SearchSpaceError
from tunelab.space import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_from_json,
    from_unit_vector,
    to_named_json,
    to_unit_vector,
)

INF, NAN = float("inf"), float("nan")


# Validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: FloatDistribution(2.0, 1.0), "low must be <= high", id="float-low>high"
        ),
        pytest.param(lambda: IntDistribution(5, 1), "low must be <= high", id="int-low>high"),
        pytest.param(
            lambda: FloatDistribution(0.0, 1.0, log=True),
            "log=True needs low > 0",
            id="float-log-low0",
        ),
        pytest.param(
            lambda: FloatDistribution(-1.0, 1.0, log=True),
            "log=True needs low > 0",
            id="float-log-negative",
        ),
        pytest.param(
            lambda: IntDistribution(0, 10, log=True), "log=True needs low >= 1", id="int-log-low0"
        ),
        pytest.param(
            lambda: FloatDistribution(1e-3, 1.0, log=True, step=0.1),
            "cannot be combined with step",
            id="float-log+step",
        ),
        pytest.param(
            lambda: FloatDistribution(0.0, 1.0, step=0.0),
            "step=0.0 must be a positive",
            id="float-step0",
        ),
        pytest.param(
            lambda: FloatDistribution(0.0, 1.0, step=-0.5),
            "step=-0.5 must be a positive",
            id="float-step-negative",
        ),
        pytest.param(
            lambda: IntDistribution(0, 10, step=0), "step=0 must be a positive", id="int-step0"
        ),
        pytest.param(
            lambda: FloatDistribution(0.0, 1.0, step=0.3),
            "step=0.3 does not fit",
            id="float-step-misfit",
        ),
        pytest.param(
            lambda: IntDistribution(0, 10, step=3), "step=3 does not fit", id="int-step-misfit"
        ),
        pytest.param(
            lambda: IntDistribution(0.5, 3), "low=0.5 must be an integer", id="int-low-fraction"
        ),
        pytest.param(
            lambda: IntDistribution(0, 3.5), "high=3.5 must be an integer", id="int-high-fraction"
        ),
        pytest.param(
            lambda: IntDistribution(0, 10, step=2.5),
            "step=2.5 must be an integer",
            id="int-step-fraction",
        ),
        pytest.param(
            lambda: IntDistribution(True, 3), "low=True must be an integer", id="int-low-bool"
        ),
        pytest.param(
            lambda: IntDistribution(1, 16, log=True, step=3),
            "log=True needs step=1",
            id="int-log+step",
        ),
        pytest.param(lambda: CategoricalDistribution(()), "choices is empty", id="empty-choices"),
        pytest.param(
            lambda: CategoricalDistribution("adam"), "not a single string", id="string-choices"
        ),
        pytest.param(
            lambda: CategoricalDistribution(([1, 2], 3)),
            r"choice \[1, 2\] is a list",
            id="list-choice",
        ),
        pytest.param(lambda: CategoricalDistribution(({"a": 1},)), "is a dict", id="dict-choice"),
        pytest.param(
            lambda: CategoricalDistribution((object(),)), "is a object", id="object-choice"
        ),
        pytest.param(
            lambda: CategoricalDistribution(("a", "b", "a")),
            "has duplicates",
            id="duplicate-choices",
        ),
        pytest.param(
            lambda: FloatDistribution(-INF, 1.0),
            "low=-inf is not a finite number",
            id="float-low-inf",
        ),
        pytest.param(
            lambda: FloatDistribution(0.0, INF),
            "high=inf is not a finite number",
            id="float-high-inf",
        ),
        pytest.param(
            lambda: FloatDistribution(NAN, 1.0),
            "low=nan is not a finite number",
            id="float-low-nan",
        ),
        pytest.param(
            lambda: IntDistribution(0, INF), "high=inf must be an integer", id="int-high-inf"
        ),
        pytest.param(
            lambda: IntDistribution(NAN, 3), "low=nan must be an integer", id="int-low-nan"
        ),
    ],
)
def test_impossible_definition_raises_search_space_error_naming_the_problem(build, message):
    with pytest.raises(SearchSpaceError, match=message):
        build()


def test_non_json_choice_message_says_how_to_fix_it():
    with pytest.raises(SearchSpaceError, match="choices must be None, bool, int, float or str"):
        CategoricalDistribution((object(),))


@pytest.mark.parametrize(
    ("build", "low", "high", "step", "fitting_high"),
    [
        (IntDistribution, 0, 10, 3, 9),
        (IntDistribution, 5, 30, 4, 29),
        (FloatDistribution, 0.0, 1.0, 0.3, 0.9),
        (FloatDistribution, 0.5, 1.8, 0.4, 1.7),
    ],
)
def test_step_that_does_not_fit_suggests_a_high_that_fits(build, low, high, step, fitting_high):
    with pytest.raises(SearchSpaceError) as error:
        build(low, high, step=step)
    suggested = re.search(r"Use high=(\S+) or another step", str(error.value))
    assert suggested is not None, str(error.value)
    high = float(suggested.group(1))
    assert high == pytest.approx(fitting_high)
    assert build(low, type(low)(high), step=step).high == pytest.approx(fitting_high)


def test_suggested_fitting_high_is_written_without_float_noise():
    with pytest.raises(SearchSpaceError, match=r"Use high=0\.9 or another step"):
        FloatDistribution(0.0, 1.0, step=0.3)


@pytest.mark.parametrize("step", [INF, NAN])
def test_non_finite_step_raises_search_space_error(step):
    with pytest.raises(SearchSpaceError, match="step"):
        FloatDistribution(0.0, 1.0, step=step)


@pytest.mark.parametrize(
    ("low", "high", "step", "n_values"),
    [(0.0, 0.3, 0.1, 4), (0.1, 0.7, 0.2, 4), (0.0, 1.0, 0.1, 11), (-1.0, 1.0, 0.25, 9)],
)
def test_decimal_steps_fit_despite_binary_rounding(low, high, step, n_values):
    distribution = FloatDistribution(low, high, step=step)
    grid = distribution.grid(n_points=2)
    assert len(grid) == n_values
    assert grid[0] == low and grid[-1] == high


def test_int_bounds_given_as_whole_floats_become_ints():
    distribution = IntDistribution(1.0, 8.0, step=1.0)
    assert (distribution.low, distribution.high, distribution.step) == (1, 8, 1)
    assert all(type(v) is int for v in (distribution.low, distribution.high, distribution.step))


# Membership --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distribution", "value", "expected"),
    [
        (FloatDistribution(0.0, 1.0), 0.5, True),
        (FloatDistribution(0.0, 1.0), 1, True),
        (FloatDistribution(0.0, 1.0), 1.5, False),
        (FloatDistribution(0.0, 1.0), -0.1, False),
        (FloatDistribution(0.0, 1.0), True, False),
        (FloatDistribution(0.0, 1.0), "0.5", False),
        (FloatDistribution(0.0, 1.0), None, False),
        (FloatDistribution(0.0, 1.0), NAN, False),
        (FloatDistribution(0.0, 1.0, step=0.25), 0.75, True),
        (FloatDistribution(0.0, 1.0, step=0.25), 0.3, False),
        (FloatDistribution(0.0, 1.0, step=0.1), 0.1 + 0.2, True),
        (FloatDistribution(1e-3, 1.0, log=True), 1e-4, False),
        (IntDistribution(0, 10, step=2), 4, True),
        (IntDistribution(0, 10, step=2), 4.0, True),
        (IntDistribution(0, 10, step=2), np.int64(4), True),
        (IntDistribution(0, 10, step=2), 5, False),
        (IntDistribution(0, 10, step=2), 4.5, False),
        (IntDistribution(0, 10, step=2), 12, False),
        (IntDistribution(0, 10, step=2), True, False),
        (CategoricalDistribution((1, True, "a", None)), 1, True),
        (CategoricalDistribution((1, True, "a", None)), True, True),
        (CategoricalDistribution((1, True, "a", None)), None, True),
        (CategoricalDistribution((1, True, "a", None)), "a", True),
        (CategoricalDistribution((1, True, "a", None)), 1.0, False),
        (CategoricalDistribution((1, True, "a", None)), False, False),
        (CategoricalDistribution((1, True, "a", None)), "1", False),
    ],
)
def test_contains(distribution, value, expected):
    assert distribution.contains(value) is expected


def test_categorical_with_numpy_float_choices_contains_the_equal_python_float():
    distribution = CategoricalDistribution(tuple(np.array([0.25, 0.5])))
    assert distribution.contains(0.5)


# JSON --------------------------------------------------------------------------------------

ALL_KINDS = [
    FloatDistribution(-2.5, 7.0),
    FloatDistribution(1e-5, 1e-1, log=True),
    FloatDistribution(0.0, 1.0, step=0.125),
    FloatDistribution(3.0, 3.0),
    IntDistribution(-3, 7),
    IntDistribution(1, 1024, log=True),
    IntDistribution(0, 100, step=10),
    CategoricalDistribution(("sgd", "adam")),
    CategoricalDistribution((None, True, False, 1, 1.0, "1", 0)),
]


@pytest.mark.parametrize("distribution", ALL_KINDS, ids=repr)
def test_json_round_trip_gives_an_equal_distribution(distribution):
    text = json.dumps(distribution.to_json())
    rebuilt = distribution_from_json(json.loads(text))
    assert rebuilt == distribution
    assert type(rebuilt) is type(distribution)


def test_json_round_trip_keeps_categorical_choice_types():
    distribution = CategoricalDistribution((True, 1, 1.0, "1", None))
    rebuilt = distribution_from_json(json.loads(json.dumps(distribution.to_json())))
    assert [type(c) for c in rebuilt.choices] == [bool, int, float, str, type(None)]


@pytest.mark.parametrize("distribution", ALL_KINDS, ids=repr)
def test_optunas_named_json_form_round_trips_too(distribution):
    named = json.loads(json.dumps(to_named_json(distribution)))
    assert named["name"] == type(distribution).__name__
    assert distribution_from_json(named) == distribution


def test_unknown_json_type_raises_search_space_error():
    with pytest.raises(SearchSpaceError, match="unknown distribution type 'gaussian'"):
        distribution_from_json({"type": "gaussian"})


# Unit mapping ------------------------------------------------------------------------------

_CHOICES = (None, True, False, 1, 1.0, "1", 0)


@pytest.mark.parametrize(
    ("distribution", "values"),
    [
        pytest.param(FloatDistribution(0.0, 10.0), [0.0, 2.5, 9.99, 10.0], id="float-linear"),
        pytest.param(
            FloatDistribution(1e-4, 1e-1, log=True), [1e-4, 3e-3, 0.05, 1e-1], id="float-log"
        ),
        pytest.param(FloatDistribution(0.0, 1.0, step=0.1), [0.0, 0.3, 0.7, 1.0], id="float-step"),
        pytest.param(IntDistribution(-3, 7), list(range(-3, 8)), id="int-linear"),
        pytest.param(IntDistribution(1, 1000, log=True), list(range(1, 1001)), id="int-log"),
        pytest.param(IntDistribution(0, 20, step=5), [0, 5, 10, 15, 20], id="int-step"),
        pytest.param(FloatDistribution(2.0, 2.0), [2.0], id="float-single"),
        pytest.param(IntDistribution(4, 4), [4], id="int-single"),
    ],
)
def test_numeric_value_to_unit_and_back_is_the_same_value(distribution, values):
    for value in values:
        u = distribution.to_unit(value)
        assert 0.0 <= u <= 1.0
        back = distribution.from_unit(u)
        assert back == pytest.approx(value, rel=1e-12, abs=1e-12)
        if isinstance(distribution, IntDistribution):
            assert back == value and type(back) is int


@pytest.mark.parametrize("value", _CHOICES, ids=repr)
def test_categorical_value_to_unit_and_back_keeps_its_type(value):
    distribution = CategoricalDistribution(_CHOICES)
    back = distribution.from_unit(distribution.to_unit(value))
    assert type(back) is type(value) and back == value


def test_categorical_gives_true_and_1_different_unit_positions():
    distribution = CategoricalDistribution((1, True, 1.0))
    positions = {distribution.to_unit(v) for v in (1, True, 1.0)}
    assert len(positions) == 3


def test_log_float_maps_the_unit_midpoint_to_the_geometric_mean():
    assert FloatDistribution(1e-4, 1.0, log=True).from_unit(0.5) == pytest.approx(1e-2)


DISCRETE = [
    IntDistribution(0, 4),
    IntDistribution(-3, 3),
    IntDistribution(0, 20, step=5),
    FloatDistribution(0.0, 1.0, step=0.25),
    FloatDistribution(0.0, 1.0, step=0.1),
    CategoricalDistribution(("a", "b", "c")),
    CategoricalDistribution((None, True, 1)),
]


@pytest.mark.parametrize("distribution", DISCRETE, ids=repr)
def test_uniform_u_gives_every_discrete_value_the_same_probability(distribution):
    values = distribution.grid(n_points=2)
    per_value = 200
    n = len(values) * per_value
    counts = Counter(
        json.dumps(distribution.from_unit((i + 0.5) / n))
        for i in range(n)  # json tells True from 1
    )
    assert sorted(counts) == sorted(json.dumps(v) for v in values)
    assert set(counts.values()) == {per_value}


@pytest.mark.parametrize("distribution", DISCRETE, ids=repr)
def test_random_u_gives_every_discrete_value_about_the_same_frequency(distribution):
    n_values = len(distribution.grid(n_points=2))
    us = np.random.default_rng(0).random(20_000)
    counts = Counter(json.dumps(distribution.from_unit(float(u))) for u in us)
    expected = len(us) / n_values
    assert len(counts) == n_values
    assert all(abs(c - expected) < 5 * math.sqrt(expected) for c in counts.values())


_EDGE_US = [0.0, 5e-324, 1e-12, 0.5, float(np.nextafter(1.0, 0.0)), 1.0]


@pytest.mark.parametrize(
    "distribution",
    [
        FloatDistribution(0.1, 0.7),
        FloatDistribution(1e-10, 1e10, log=True),
        FloatDistribution(0.1, 0.7, step=0.2),
        FloatDistribution(0.0, 1.0, step=0.1),
        IntDistribution(-5, 5),
        IntDistribution(1, 7, log=True),
        IntDistribution(1, 100_000, log=True),
        IntDistribution(3, 21, step=6),
    ],
    ids=repr,
)
def test_from_unit_stays_within_low_and_high(distribution):
    us = _EDGE_US + list(np.random.default_rng(1).random(2000))
    for u in us:
        value = distribution.from_unit(float(u))
        assert distribution.low <= value <= distribution.high, (u, value)
        assert distribution.contains(value), (u, value)


def test_from_unit_covers_both_ends():
    distribution = IntDistribution(1, 7, log=True)
    assert distribution.from_unit(0.0) == 1
    assert distribution.from_unit(1.0) == 7


def test_unit_vector_round_trip():
    space = {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "layers": IntDistribution(1, 5),
        "opt": CategoricalDistribution(("sgd", "adam")),
    }
    params = {"lr": 1e-3, "layers": 3, "opt": "adam"}
    u = to_unit_vector(params, space)
    assert u.shape == (3,)
    back = from_unit_vector(u, space)
    assert back["layers"] == 3 and back["opt"] == "adam"
    assert back["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("distribution", "n_points", "expected"),
    [
        (FloatDistribution(0.0, 1.0), 3, [0.0, 0.5, 1.0]),
        (FloatDistribution(1e-3, 1e-1, log=True), 3, [1e-3, 1e-2, 1e-1]),
        (FloatDistribution(0.0, 1.0, step=0.5), 10, [0.0, 0.5, 1.0]),
        (IntDistribution(0, 6, step=3), 2, [0, 3, 6]),
    ],
)
def test_numeric_grid_values(distribution, n_points, expected):
    assert distribution.grid(n_points) == pytest.approx(expected)


def test_categorical_grid_is_every_choice_in_order():
    assert CategoricalDistribution(("a", None, 1)).grid(1) == ["a", None, 1]
