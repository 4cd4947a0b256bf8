"""tunelab.search_space: the parameters every finished trial shares, as Optuna computes them."""

from __future__ import annotations

import inspect

import optuna as real_optuna
import pytest

import tunelab as optuna
from tunelab.exceptions import ConfigError

D = optuna.distributions


def conditional(trial):
    """x always; y only for the "tree" model; z changes its range at trial 4; pruned at 2."""
    trial.suggest_float("x", 0.0, 1.0)
    model = trial.suggest_categorical("model", ["tree", "linear"])
    if model == "tree":
        trial.suggest_int("y", 1, 8)
    trial.suggest_float("z", 0.0, 1.0 if trial.number < 4 else 2.0)
    if trial.number == 2:
        raise optuna.TrialPruned()
    return 0.0


@pytest.fixture
def study():
    study = optuna.create_study(sampler="random", seed=0)
    study.enqueue_trial({"model": "tree"})
    study.enqueue_trial({"model": "linear"})
    study.optimize(conditional, n_trials=4)
    return study


def test_the_intersection_keeps_what_every_completed_trial_shares_by_name(study):
    space = optuna.search_space.intersection_search_space(study.trials)
    assert space == {
        "model": D.CategoricalDistribution(["tree", "linear"]),
        "x": D.FloatDistribution(0.0, 1.0),
        "z": D.FloatDistribution(0.0, 1.0),
    }
    assert list(space) == sorted(space)


def test_a_range_that_changes_leaves_the_intersection(study):
    study.optimize(conditional, n_trials=1)  # trial 4: z over [0, 2]
    assert "z" not in optuna.search_space.intersection_search_space(study.trials)


def test_pruned_trials_count_when_asked(study):
    pruned = study.trials[2]
    assert pruned.state is optuna.TrialState.PRUNED
    included = optuna.search_space.intersection_search_space([pruned], include_pruned=True)
    assert included == dict(sorted(pruned.distributions.items()))
    assert optuna.search_space.intersection_search_space([pruned]) == {}


def test_the_incremental_space_follows_the_study_as_it_grows(study):
    incremental = optuna.search_space.IntersectionSearchSpace()
    full = optuna.search_space.intersection_search_space(study.trials)
    assert incremental.calculate(study) == full
    running = study.ask()
    running.suggest_float("x", 0.0, 1.0)
    study.optimize(conditional, n_trials=1)  # finishes after the running trial: z changes
    assert incremental.calculate(study) == {k: v for k, v in full.items() if k != "z"}
    study.tell(running, 1.0)  # counted once it finishes, though it was read while running
    assert incremental.calculate(study) == {"x": D.FloatDistribution(0.0, 1.0)}
    assert incremental.calculate(study) == optuna.search_space.intersection_search_space(
        study.trials
    )


def test_one_instance_follows_one_study(study):
    incremental = optuna.search_space.IntersectionSearchSpace()
    incremental.calculate(study)
    with pytest.raises(ConfigError, match="one IntersectionSearchSpace per study"):
        incremental.calculate(optuna.create_study())


@pytest.mark.parametrize(
    ("owner", "name"),
    [(None, "intersection_search_space"), (None, "IntersectionSearchSpace"),
     ("IntersectionSearchSpace", "calculate")],
)
def test_optunas_arguments_are_taken(owner, name):
    def signature(module):
        found = getattr(module.search_space, owner or name)
        return inspect.signature(getattr(found, name) if owner else found).parameters

    theirs, ours = signature(real_optuna), signature(optuna)
    assert [(n, p.default) for n, p in theirs.items()] == [
        (n, p.default) for n, p in ours.items()
    ]
