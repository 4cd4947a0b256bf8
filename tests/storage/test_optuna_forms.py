"""Optuna's stored forms in tunelab's terms: each distribution Optuna 3 reads, parameters in
their internal form, tagged floats, naive times and the attributes that have tunelab keys."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone

import pytest

from tunelab._attrs import CONSTRAINTS_ATTR, FIXED_PARAMS_ATTR, OPTUNA_SYSTEM_ATTRS_ATTR
from tunelab.space import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.storage._optuna_forms import (
    distribution,
    metric_names,
    parameter,
    tagged_float,
    trial_system_attrs,
    utc_reader,
)


def optuna_json(name: str, **attributes: object) -> str:
    return json.dumps({"name": name, "attributes": attributes})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (optuna_json("FloatDistribution", low=0.0, high=1.0, log=False, step=0.25),
         FloatDistribution(0.0, 1.0, step=0.25)),
        (optuna_json("IntDistribution", low=1, high=64, log=True, step=1),
         IntDistribution(1, 64, log=True)),
        (optuna_json("CategoricalDistribution", choices=["a", None, 2, False]),
         CategoricalDistribution(("a", None, 2, False))),
        # Optuna 2's names, which Optuna 3 still reads
        (optuna_json("UniformDistribution", low=-1.0, high=1.0), FloatDistribution(-1.0, 1.0)),
        (optuna_json("LogUniformDistribution", low=1e-4, high=1.0),
         FloatDistribution(1e-4, 1.0, log=True)),
        (optuna_json("DiscreteUniformDistribution", low=0.0, high=1.0, q=0.5),
         FloatDistribution(0.0, 1.0, step=0.5)),
        (optuna_json("IntUniformDistribution", low=0, high=10, step=2),
         IntDistribution(0, 10, step=2)),
        (optuna_json("IntLogUniformDistribution", low=1, high=100, step=1),
         IntDistribution(1, 100, log=True)),
    ],
)
def test_each_distribution_optuna_reads_becomes_tunelab_s(text, expected):
    assert distribution(text) == expected


def test_an_unknown_distribution_is_refused():
    with pytest.raises(ValueError, match="unknown distribution name 'BetaDistribution'"):
        distribution(optuna_json("BetaDistribution", a=1))


def test_parameters_come_out_of_optuna_s_internal_form():
    categorical = optuna_json("CategoricalDistribution", choices=["sgd", True, 3])
    assert parameter(categorical, 1.0)[1] is True
    assert parameter(categorical, 2.0)[1] == 3
    number = parameter(optuna_json("IntDistribution", low=1, high=9, log=False, step=2), 5.0)[1]
    assert number == 5 and type(number) is int
    with pytest.raises(ValueError, match="3.0 is not the index of one of"):
        parameter(categorical, 3.0)
    with pytest.raises(ValueError, match="is not a number"):
        parameter(optuna_json("FloatDistribution", low=0, high=1, log=False, step=None), None)


def test_tagged_floats():
    assert tagged_float(0.5, "FINITE") == 0.5
    assert tagged_float(None, "INF_POS") == math.inf
    assert tagged_float(None, "INF_NEG") == -math.inf
    assert math.isnan(tagged_float(None, "NAN"))
    assert math.isnan(tagged_float(None, "FINITE"))  # a NaN that SQLite turned into NULL
    with pytest.raises(ValueError, match="unknown value type 'HUGE'"):
        tagged_float(None, "HUGE")


@pytest.fixture
def in_tokyo(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_optuna_5_times_are_utc_and_earlier_ones_local(in_tokyo):
    stored = datetime(2026, 1, 2, 12, 0, 0)
    assert utc_reader("5.1.0")(stored) == stored.replace(tzinfo=timezone.utc)
    assert utc_reader("4.6.0")(stored) == datetime(2026, 1, 2, 3, 0, 0, tzinfo=timezone.utc)
    assert utc_reader(None)(None) is None


def test_trial_system_attributes_with_tunelab_keys_move_there():
    attrs = trial_system_attrs({
        "constraints": [0.5],
        "constraints:b": -1.0,
        "constraints:a": 2.0,
        "fixed_params": {"x": 1},
        "cma:optimizer:0": "80049500",
        "cma:generation": 3,
    })
    assert attrs == {
        CONSTRAINTS_ATTR: [0.5],
        "constraints:b": -1.0,
        "constraints:a": 2.0,
        FIXED_PARAMS_ATTR: {"x": 1},
        OPTUNA_SYSTEM_ATTRS_ATTR: {"cma:generation": 3},
    }
    assert trial_system_attrs({}) == {}


def test_metric_names_are_kept_only_one_distinct_name_per_objective():
    assert metric_names(["loss", "time"], 2) == ("loss", "time")
    assert metric_names(["loss"], 2) is None
    assert metric_names(["loss", "loss"], 2) is None
    assert metric_names(None, 1) is None
