"""tunelab.distributions: Optuna's names, keywords and JSON form over tunelab's distributions."""

from __future__ import annotations

import inspect
import json

import optuna as real_optuna
import pytest

import tunelab as optuna
from tunelab.exceptions import ParameterConflictError, SearchSpaceError

D = optuna.distributions

EXAMPLES = [
    D.FloatDistribution(low=1e-5, high=1e-1, log=True),
    D.FloatDistribution(low=0.0, high=0.5, step=0.1),
    D.FloatDistribution(low=-1.0, high=1.0),
    D.IntDistribution(low=16, high=256, log=True),
    D.IntDistribution(low=1, high=9, step=2),
    D.CategoricalDistribution(choices=("adam", "sgd", None, 3, 0.5, True)),
]


@pytest.mark.parametrize("distribution", EXAMPLES, ids=repr)
def test_every_distribution_is_a_base_distribution(distribution):
    assert isinstance(distribution, D.BaseDistribution)


@pytest.mark.parametrize("distribution", EXAMPLES, ids=repr)
def test_the_json_form_is_optunas_and_reads_back(distribution):
    text = D.distribution_to_json(distribution)
    data = json.loads(text)
    assert data["name"] == type(distribution).__name__
    assert "type" not in data["attributes"]
    assert D.json_to_distribution(text) == distribution


def test_the_attributes_are_optunas():
    data = json.loads(D.distribution_to_json(D.FloatDistribution(0.0, 1.0, step=0.25)))
    assert data["attributes"] == {"low": 0.0, "high": 1.0, "log": False, "step": 0.25}
    data = json.loads(D.distribution_to_json(D.CategoricalDistribution(["a", "b"])))
    assert data == {"name": "CategoricalDistribution", "attributes": {"choices": ["a", "b"]}}


def test_tunelabs_own_json_form_is_read_too():
    text = json.dumps({"type": "int", "low": 1, "high": 4, "log": False, "step": 1})
    assert D.json_to_distribution(text) == D.IntDistribution(1, 4)


@pytest.mark.parametrize(
    ("name", "attributes", "expected"),
    [
        ("UniformDistribution", {"low": 0.0, "high": 2.0}, D.FloatDistribution(0.0, 2.0)),
        ("LogUniformDistribution", {"low": 1e-3, "high": 1.0},
         D.FloatDistribution(1e-3, 1.0, log=True)),
        ("DiscreteUniformDistribution", {"low": 0.0, "high": 1.0, "q": 0.5},
         D.FloatDistribution(0.0, 1.0, step=0.5)),
        ("IntUniformDistribution", {"low": 0, "high": 10, "step": 2},
         D.IntDistribution(0, 10, step=2)),
        ("IntLogUniformDistribution", {"low": 1, "high": 64, "step": 1},
         D.IntDistribution(1, 64, log=True)),
    ],
)
def test_the_json_of_optunas_deprecated_names_reads_as_todays(name, attributes, expected):
    assert D.json_to_distribution(json.dumps({"name": name, "attributes": attributes})) == expected


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: D.UniformDistribution(0.0, 2.0), D.FloatDistribution(0.0, 2.0)),
        (lambda: D.LogUniformDistribution(1e-3, 1.0), D.FloatDistribution(1e-3, 1.0, log=True)),
        (lambda: D.DiscreteUniformDistribution(0.0, 1.0, q=0.5),
         D.FloatDistribution(0.0, 1.0, step=0.5)),
        (lambda: D.IntUniformDistribution(0, 10, step=2), D.IntDistribution(0, 10, step=2)),
        (lambda: D.IntLogUniformDistribution(1, 64), D.IntDistribution(1, 64, log=True)),
    ],
)
def test_optunas_deprecated_names_build_todays_distributions_with_a_warning(build, expected):
    with pytest.warns(FutureWarning, match="deprecated"):
        assert build() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"name": "NormalDistribution", "attributes": {}}', "unknown distribution name"),
        ('{"name": "FloatDistribution", "attributes": {"low": 0.0}}', "lacks the attribute 'high'"),
        ('{"name": "FloatDistribution"}', "attributes=None"),
    ],
)
def test_json_that_is_no_distribution_says_what_is_wrong(text, message):
    with pytest.raises(SearchSpaceError, match=message):
        D.json_to_distribution(text)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (D.FloatDistribution(0.0, 1.0), D.FloatDistribution(0.0, 2.0)),
        (D.FloatDistribution(0.0, 1.0), D.FloatDistribution(0.0, 1.0, step=0.5)),
        (D.IntDistribution(1, 8), D.IntDistribution(2, 16)),
        (D.CategoricalDistribution(["a", "b"]), D.CategoricalDistribution(["a", "b"])),
    ],
)
def test_compatible_distributions_pass(old, new):
    D.check_distribution_compatibility(old, new)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (D.FloatDistribution(0.0, 1.0), D.IntDistribution(0, 1), "FloatDistribution and then"),
        (D.FloatDistribution(0.1, 1.0), D.FloatDistribution(0.1, 1.0, log=True), "log scale"),
        (D.CategoricalDistribution(["a"]), D.CategoricalDistribution(["a", "b"]), "choices"),
    ],
)
def test_incompatible_distributions_raise_a_value_error(old, new, message):
    with pytest.raises(ParameterConflictError, match=message) as caught:
        D.check_distribution_compatibility(old, new)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "name",
    [
        "FloatDistribution", "IntDistribution", "CategoricalDistribution",
        "UniformDistribution", "LogUniformDistribution", "DiscreteUniformDistribution",
        "IntUniformDistribution", "IntLogUniformDistribution",
        "distribution_to_json", "json_to_distribution", "check_distribution_compatibility",
    ],
)
def test_optunas_arguments_are_taken(name):
    theirs = inspect.signature(getattr(real_optuna.distributions, name)).parameters
    ours = inspect.signature(getattr(D, name)).parameters
    assert [(n, p.default) for n, p in theirs.items()] == [
        (n, p.default) for n, p in ours.items()
    ]
