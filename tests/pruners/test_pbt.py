"""Population-based training: members pause at every interval and are carried on, the worst
exploit the best and explore, lineage is stored, and the population beats its founders on a
task where good settings compound."""

from __future__ import annotations

import math

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import PopulationBasedTraining, make_pruner
from tunelab.trial import Resume, TrialState


def gain(lr: float) -> float:
    """Progress per step: best at lr = 0.01."""
    return 1.0 - abs(math.log10(lr) + 2.0)


def run_pbt(seed: int = 0, **options):
    """A study whose members' accuracy grows by gain(lr) per step; each trial resumes from the
    accuracy its source reached (the stand-in for a checkpoint)."""
    pruner = PopulationBasedTraining(**{"max_resource": 8, "population_size": 4, "interval": 2,
                                        "seed": seed, **options})
    reached: dict[tuple[int, int], float] = {}  # (trial, step) -> accuracy: the checkpoints
    trained: list[tuple[int, int]] = []

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        step, accuracy = 0, 0.0
        if trial.resume is not None:
            step = trial.resume.step
            accuracy = reached[(trial.resume.trial, step)]
        while step < pruner.max_resource:
            step += 1
            accuracy += gain(lr)
            trained.append((trial.number, step))
            reached[(trial.number, step)] = accuracy
            trial.report(accuracy, step=step)
            if trial.should_prune():
                raise tunelab.TrialPruned(f"paused at step {step}")
        return accuracy

    study = tunelab.create_study(direction="maximize", sampler={"name": "random", "seed": seed},
                                 pruner=pruner)
    study.optimize(objective, n_trials=pruner.n_trials)
    return study, trained


def test_each_member_trains_every_step_once_and_completes_at_max_resource():
    study, trained = run_pbt()
    assert len(study.trials) == 16  # 4 members x 4 intervals
    complete = [r for r in study.trials if r.state is TrialState.COMPLETE]
    assert len(complete) == 4
    assert sorted(r.system_attrs["pbt"]["member"] for r in complete) == [0, 1, 2, 3]
    assert all(sorted(r.intermediate_values) == list(range(1, 9)) for r in complete)
    assert len(trained) == 4 * 8  # no step is trained twice
    paused = [r for r in study.trials if r.state is TrialState.PRUNED]
    assert {r.last_step for r in paused} == {2, 4, 6}
    assert all(r.fail_reason.startswith("paused at step") for r in paused)


def test_the_worst_quarter_copies_the_best_and_perturbs_its_learning_rate():
    study, _ = run_pbt(resample_probability=0.0)
    by_number = {r.number: r for r in study.trials}
    exploits = [r for r in study.trials if "copied_from" in r.system_attrs.get("pbt", {})]
    assert len(exploits) == 3  # one of four members at each of steps 2, 4 and 6
    for record in exploits:
        lineage, resume = record.system_attrs["pbt"], Resume.of(record)
        source = by_number[lineage["copied_from"]]
        assert resume.trial == source.number
        assert record.intermediate_values[resume.step] == source.intermediate_values[resume.step]
        peers = [r for r in study.trials if r.state is TrialState.PRUNED
                 and r.last_step == resume.step]
        values = sorted(r.intermediate_values[resume.step] for r in peers)
        previous = by_number[resume.previous]
        assert previous.system_attrs.get("pbt", {"member": previous.number})["member"] == \
            lineage["member"]
        assert previous.intermediate_values[resume.step] == values[0]  # it was the worst
        assert source.intermediate_values[resume.step] == values[-1]  # it copies the best
        old, new = lineage["changed"]["lr"]
        assert old == source.params["lr"] and record.params["lr"] == new
        ratio = new / old
        assert math.isclose(ratio, 0.8) or math.isclose(ratio, 1.2)


def test_the_population_ends_better_than_its_best_founder_would_alone():
    for seed in range(5):
        study, _ = run_pbt(seed=seed, resample_probability=0.0)
        founders = study.trials[:4]
        alone = max(8 * gain(r.params["lr"]) for r in founders)
        assert study.best_value >= alone - 1e-9
        assert study.best_value > min(8 * gain(r.params["lr"]) for r in founders)


def test_the_same_seed_gives_the_same_population():
    first, _ = run_pbt(seed=3)
    second, _ = run_pbt(seed=3)
    assert [r.params for r in first.trials] == [r.params for r in second.trials]
    assert [dict(r.system_attrs) for r in first.trials] == [
        dict(r.system_attrs) for r in second.trials
    ]


def test_a_member_that_reports_nan_stops_for_good():
    pruner = PopulationBasedTraining(max_resource=4, population_size=2, interval=2)
    study = tunelab.create_study(pruner=pruner)
    for value in (math.nan, 1.0):
        trial = study.ask()
        trial.suggest_float("lr", 0.1, 1.0)
        trial.report(value, step=1 if math.isnan(value) else 2)
        assert trial.should_prune()
        study.tell(trial, state=TrialState.PRUNED)
    continuation = pruner.next_trial(study)
    assert continuation is not None and continuation.source.number == 1
    assert study.ask().resume.trial == 1
    assert pruner.next_trial(study) is None  # the NaN member is not carried on


@pytest.mark.parametrize(
    ("options", "field"),
    [({"max_resource": 0}, "max_resource"), ({"population_size": 1}, "population_size"),
     ({"interval": 20}, "interval"), ({"quantile": 0.7}, "quantile"),
     ({"perturbation_factors": []}, "perturbation_factors"), ({"explore": "lr"}, "explore"),
     ({"resample_probability": 2}, "resample_probability")],
)
def test_bad_options_raise_a_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError) as caught:
        make_pruner({"name": "pbt", "max_resource": 20, **options})
    assert caught.value.field == field


def test_the_study_seed_seeds_the_population_when_the_pruner_names_none():
    pruner = make_pruner({"name": "pbt", "max_resource": 8}, seed=11)
    assert pruner.seed == 11
    study = tunelab.create_study(pruner={"name": "pbt", "max_resource": 8}, seed=12)
    assert study.pruner.seed == 12
