"""Constraint values: checked on the way in, summed into a violation, read back from trials."""

from __future__ import annotations

import math

import pytest

from tunelab.constraints import check_constraints, constraint_values, is_feasible, violation
from tunelab.exceptions import ConfigError


@pytest.mark.parametrize(
    "values, expected",
    [(None, 0.0), ([], 0.0), ([-1.0, 0.0], 0.0), ([0.5, -2.0, 0.25], 0.75),
     ([1.0, math.nan], math.inf), ([-math.inf], math.inf)],
)
def test_violation_sums_the_positive_parts_and_non_finite_values_are_infinite(values, expected):
    assert violation(values) == expected


def test_check_constraints_names_the_source_trial_and_field():
    assert check_constraints((1, 2.5), "f", 3) == [1.0, 2.5]
    with pytest.raises(ConfigError, match="my_func gave 'x'.*trial 7") as error:
        check_constraints(["x"], "my_func", 7, field="constraints_func")
    assert error.value.field == "constraints_func"


def test_trials_read_back_their_values_and_feasibility(make_study):
    study = make_study()
    for constraints in ([-1.0], [0.5], None):
        trial = study.ask()
        if constraints is not None:
            trial.set_constraints(constraints)
        study.tell(trial, 1.0)
    records = study.trials
    assert [constraint_values(r) for r in records] == [[-1.0], [0.5], None]
    assert [is_feasible(r) for r in records] == [True, False, True]
