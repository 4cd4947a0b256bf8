"""Wilcoxon pruning: a trial is compared with the best completed one instance by instance (steps
are instance ids, in any order), and stopped once it is significantly worse, unless its mean is
no worse; startup steps, direction, trials it cannot be compared with, validation."""

from __future__ import annotations

import math
import random
import warnings

import pytest
from scipy.stats import wilcoxon

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import WilcoxonPruner, make_pruner
from tunelab.trial import TrialState, create_trial

from .helpers import decide

BEST = {step: float(step % 5) for step in range(12)}  # "hard" and "easy" instances


def study_with_best(
    values: dict[int, float] | None = None, direction: str = "minimize", value: float = 0.0
) -> tunelab.Study:
    """A study whose one completed trial reported ``values`` (by instance) and returned their
    mean, as a Wilcoxon objective does (``value`` where the mean is not a finite number)."""
    study = tunelab.create_study(direction=direction)
    values = BEST if values is None else values
    mean = sum(values.values()) / len(values) if values else value
    mean = mean if math.isfinite(mean) else value
    study.add_trial(create_trial(value=mean, intermediate_values=values))
    return study


def shifted(by: float, steps: range | list[int]) -> dict[int, float]:
    """The best trial's values at ``steps`` plus ``by`` (worse when minimizing if positive)."""
    return {step: BEST[step] + by for step in steps}


def quiet_decide(pruner: WilcoxonPruner, study: tunelab.Study, reported: dict[int, float]) -> bool:
    """``decide``, failing on any warning: a comparable trial needs none."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return decide(pruner, study, reported)


def test_a_trial_worse_on_every_instance_is_pruned():
    study = study_with_best()
    assert quiet_decide(WilcoxonPruner(), study, shifted(0.5, range(6))) is True


@pytest.mark.parametrize("by", [0.0, -0.5])
def test_an_equal_or_better_trial_is_not_pruned(by):
    study = study_with_best()
    assert quiet_decide(WilcoxonPruner(p_threshold=0.5), study, shifted(by, range(12))) is False


def test_too_few_paired_instances_are_no_evidence():
    study = study_with_best()  # 4 worse instances of 4: p = 1/16; of 3: p = 1/8
    assert quiet_decide(WilcoxonPruner(), study, shifted(1.0, range(3))) is False
    assert quiet_decide(WilcoxonPruner(), study, shifted(1.0, range(4))) is True


def test_instances_are_paired_by_step_in_any_order():
    study = study_with_best()
    steps = [11, 3, 7, 0, 9, 5]
    reported = {step: BEST[step] + 0.5 for step in steps}  # reported in this order
    assert quiet_decide(WilcoxonPruner(), study, reported) is True
    # The same values paired with the wrong instances are no longer all worse.
    scrambled = dict(zip(steps, sorted(reported.values())))
    assert quiet_decide(WilcoxonPruner(), study, scrambled) is False


def test_startup_steps_delay_the_test():
    study = study_with_best()
    worse = shifted(1.0, range(6))  # p = 1/64
    assert quiet_decide(WilcoxonPruner(n_startup_steps=7), study, worse) is False
    assert quiet_decide(WilcoxonPruner(n_startup_steps=6), study, worse) is True


def test_two_paired_instances_are_needed_whatever_the_startup_steps():
    study = study_with_best()
    pruner = WilcoxonPruner(p_threshold=1.0, n_startup_steps=0)
    assert quiet_decide(pruner, study, shifted(1.0, [4])) is False
    assert quiet_decide(pruner, study, shifted(1.0, [4, 8])) is True


def test_only_instances_the_best_trial_ran_count():
    study = study_with_best({step: BEST[step] for step in range(0, 12, 2)})
    pruner = WilcoxonPruner(n_startup_steps=4)
    odd_and_even = shifted(1.0, [1, 0, 3, 2, 5, 4])  # three of them paired
    with pytest.warns(UserWarning, match="left out of the comparison"):
        assert decide(pruner, study, odd_and_even) is False
    with pytest.warns(UserWarning, match="left out of the comparison"):
        assert decide(pruner, study, {**odd_and_even, 6: BEST[6] + 1.0}) is True


def test_a_trial_no_worse_on_average_is_spared_even_when_the_test_says_worse():
    best = {step: 0.0 for step in range(21)}
    current = {step: 1.0 for step in range(20)} | {20: -100.0}  # worse on 20 of 21
    assert wilcoxon(list(current.values()), alternative="greater").pvalue < 0.01
    assert quiet_decide(WilcoxonPruner(), study_with_best(best), current) is False


def test_maximize_prunes_the_lower_scores():
    study = study_with_best(direction="maximize")
    assert quiet_decide(WilcoxonPruner(), study, shifted(-0.5, range(6))) is True
    assert quiet_decide(WilcoxonPruner(), study, shifted(0.5, range(6))) is False


def test_no_completed_trial_means_no_pruning():
    study = tunelab.create_study(pruner=WilcoxonPruner(p_threshold=1.0, n_startup_steps=0))
    stopped = study.ask()
    for step in range(5):
        stopped.report(0.0, step=step)
    study.tell(stopped, state=TrialState.PRUNED)  # finished, but not a best trial
    assert quiet_decide(study.pruner, study, {step: 9.0 for step in range(5)}) is False


def test_a_best_trial_without_reported_values_is_warned_about():
    study = study_with_best({})
    with pytest.warns(UserWarning, match="has no reported values"):
        assert decide(WilcoxonPruner(), study, shifted(1.0, range(6))) is False


@pytest.mark.parametrize("where", ["current", "best"])
def test_a_nan_keeps_the_trial_from_being_pruned(where):
    worse = shifted(1.0, range(6))
    best = dict(BEST)
    if where == "current":
        worse[5] = math.nan
    else:
        best[5] = math.inf
    with pytest.warns(UserWarning, match="NaN or infinite"):
        assert decide(WilcoxonPruner(), study_with_best(best), worse) is False


def test_an_objective_in_optunas_style_stops_poor_trials_early():
    instances = [i / 10 for i in range(-10, 11)]

    def objective(trial):
        x = trial.suggest_float("x", -1.0, 1.0)
        order = random.Random(trial.number).sample(range(len(instances)), len(instances))
        losses = []
        for instance in order:
            losses.append((x - instances[instance]) ** 2)
            trial.report(losses[-1], step=instance)
            if trial.should_prune():
                trial.set_user_attr("stopped", True)
                return sum(losses) / len(losses)  # an estimate, as Optuna's docs suggest
        return sum(losses) / len(losses)

    study = tunelab.create_study(
        sampler=tunelab.samplers.RandomSampler(seed=0), pruner={"name": "wilcoxon"}
    )
    study.optimize(objective, n_trials=25)
    stopped = [t for t in study.trials if t.user_attrs.get("stopped")]
    assert len(stopped) >= 5
    assert all(len(t.intermediate_values) < len(instances) for t in stopped)
    assert len(study.best_trial.intermediate_values) == len(instances)
    assert all(t.value > study.best_value for t in stopped)


def test_it_is_built_by_name_with_optunas_options():
    pruner = make_pruner({"name": "wilcoxon", "p_threshold": 0.05, "n_startup_steps": 4})
    assert isinstance(pruner, WilcoxonPruner)
    assert (pruner.p_threshold, pruner.n_startup_steps) == (0.05, 4)
    with pytest.raises(TypeError):
        WilcoxonPruner(0.05)  # keyword-only, as in Optuna


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"p_threshold": 1.5}, "p_threshold", r"p_threshold=1\.5 must be a number in \[0, 1\]"),
        ({"p_threshold": math.nan}, "p_threshold", r"p_threshold=nan must be a number in"),
        ({"p_threshold": "0.1"}, "p_threshold", r"p_threshold='0\.1' must be a number in"),
        ({"n_startup_steps": -1}, "n_startup_steps", "n_startup_steps=-1 must be an integer >= 0"),
        ({"n_startup_steps": 2.5}, "n_startup_steps", r"n_startup_steps=2\.5 must be an integer"),
    ],
)
def test_bad_options_raise_a_config_error_naming_the_field(options, field, message):
    with pytest.raises(ConfigError, match=f"wilcoxon pruner: {message}") as caught:
        make_pruner({"name": "wilcoxon", **options})
    assert caught.value.field == field
