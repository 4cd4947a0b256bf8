"""Scripts that use Optuna's trial objects, run against Optuna and against tunelab.

Each body is what an Optuna user writes: re-running the best trial, testing an objective with
a FixedTrial, warm-starting a study with known results, reading a trial's fields after
optimize. The two results are compared by kind (types, states, counts, whether something was
raised or pruned), never by the numbers each library's sampler happened to draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

import tunelab
from tests.compat.harness import run_both, run_script

# What a script imports with ``from optuna.distributions import ...``, for each library.
DISTRIBUTIONS = {
    "optuna": {
        "FloatDistribution": optuna.distributions.FloatDistribution,
        "IntDistribution": optuna.distributions.IntDistribution,
    },
    "tunelab": {
        "FloatDistribution": tunelab.FloatDistribution,
        "IntDistribution": tunelab.IntDistribution,
    },
}


def run_both_with_distributions(
    body: str, folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Like ``run_both``, for a body that begins with the distributions imported by name."""
    optuna_result, tunelab_result = (
        run_script(body, library, folder / library, **DISTRIBUTIONS[library])
        for library in ("optuna", "tunelab")
    )
    return optuna_result, tunelab_result


def test_the_best_trial_re_runs_the_best_configuration(tmp_path):
    body = """
    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        layers = trial.suggest_int("layers", 1, 3)
        activation = trial.suggest_categorical("activation", ["relu", "tanh"])
        return (x - 2) ** 2 + layers + (0.5 if activation == "tanh" else 0.0)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    study.optimize(objective, n_trials=20)
    best = study.best_trial
    result["re_run_gives_the_best_value"] = objective(best) == study.best_value
    result["is_a_frozen_trial"] = isinstance(best, optuna.trial.FrozenTrial)
    result["params_are_the_best_params"] = best.params == study.best_params
    result["param_types"] = {name: type(value).__name__ for name, value in best.params.items()}
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab["re_run_gives_the_best_value"] is True


def test_an_objective_tested_with_a_fixed_trial(tmp_path):
    body = """
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        units = trial.suggest_int("units", 16, 128, step=16)
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        score = 0.0
        for epoch in range(3):
            score = units * lr * (epoch + 1) + (optimizer == "adam")
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("epochs", 3)
        return score

    trial = optuna.trial.FixedTrial({"lr": 0.01, "units": 32, "optimizer": "adam"}, number=3)
    result["value"] = objective(trial)
    result["params"] = dict(trial.params)
    result["distributions"] = sorted(type(d).__name__ for d in trial.distributions.values())
    result["user_attrs"] = dict(trial.user_attrs)
    result["number"] = trial.number
    try:
        objective(optuna.trial.FixedTrial({"lr": 0.01}))
    except ValueError as error:
        result["missing_parameter_is_named"] = "units" in str(error)
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab["missing_parameter_is_named"] is True


def test_known_results_warm_start_a_study_that_then_continues(tmp_path):
    body = """
    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        y = trial.suggest_int("y", -5, 5)
        return (x - 1) ** 2 + (y + 2) ** 2

    known = [(1.2, -2, 0.04), (0.5, -1, 1.25), (-3.0, 4, 52.0), (4.0, 0, 13.0)]
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    trials = []
    for x, y, value in known:
        trial = optuna.trial.create_trial(
            params={"x": x, "y": y},
            distributions={"x": FloatDistribution(-5, 5), "y": IntDistribution(-5, 5)},
            value=value,
        )
        trial.set_user_attr("source", "lab notebook")
        trials.append(trial)
    study.add_trials(trials)
    result["added"] = len(study.trials)
    result["sources"] = [t.user_attrs for t in study.trials]
    result["best_after_adding"] = study.best_params
    study.optimize(objective, n_trials=12)
    result["numbers"] = [t.number for t in study.trials]
    result["states"] = sorted({t.state.name for t in study.trials})
    result["added_kept_their_params"] = [t.params for t in study.trials[:4]] == [
        {"x": x, "y": y} for x, y, _ in known
    ]
    result["best_no_worse_than_known"] = study.best_value <= 0.04
    """
    from_optuna, from_tunelab = run_both_with_distributions(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab["numbers"] == list(range(16))


def test_trial_fields_a_script_reads_after_optimize(tmp_path):
    body = """
    import datetime

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        loss = 0.0
        for step in range(5):
            loss = x * (step + 1)
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = optuna.create_study(
        storage=storage_url,
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
    )
    study.optimize(objective, n_trials=20)
    State = optuna.trial.TrialState
    complete = [t for t in study.trials if t.state == State.COMPLETE]
    pruned = [t for t in study.trials if t.state == State.PRUNED]
    result["some_pruned"] = len(pruned) > 0
    result["duration_types"] = sorted({type(t.duration).__name__ for t in study.trials})
    result["durations_not_negative"] = all(
        t.duration >= datetime.timedelta(0) for t in study.trials
    )
    result["start_types"] = sorted({type(t.datetime_start).__name__ for t in study.trials})
    result["complete_types"] = sorted({type(t.datetime_complete).__name__ for t in study.trials})
    result["last_step_of_complete"] = sorted({t.last_step for t in complete})
    result["steps_of_complete"] = sorted({tuple(t.intermediate_values) for t in complete})
    result["pruned_stopped_early"] = all(t.last_step < 4 for t in pruned)
    result["last_value_is_the_value"] = all(
        t.intermediate_values[t.last_step] == t.value for t in complete
    )
    result["ids_are_ints"] = all(isinstance(t._trial_id, int) for t in study.trials)
    result["sorted_by_number"] = [t.number for t in sorted(study.trials, reverse=True)][:3]
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab["some_pruned"] is True
    assert from_tunelab["duration_types"] == ["timedelta"]


def test_objectives_check_their_argument_against_base_trial(tmp_path):
    body = """
    def objective(trial):
        if not isinstance(trial, optuna.trial.BaseTrial):
            raise TypeError(f"objective takes a trial, not {type(trial).__name__}")
        x = trial.suggest_float("x", -1, 1)
        return x**2

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=5)
    asked = study.ask()
    study.tell(asked, objective(asked))
    result["states"] = [t.state.name for t in study.trials]
    result["live_is_a_trial"] = isinstance(asked, optuna.trial.Trial)
    result["fixed_value"] = objective(optuna.trial.FixedTrial({"x": 0.5}))
    result["best_re_runs"] = objective(study.best_trial) == study.best_value
    result["base_trial_of"] = [
        isinstance(t, optuna.trial.BaseTrial)
        for t in (asked, optuna.trial.FixedTrial({}), study.best_trial, study.trials[0])
    ]
    try:
        objective({"x": 0.5})
    except TypeError as error:
        result["a_dict_is_refused"] = str(error)
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab["base_trial_of"] == [True, True, True, True]


def test_the_best_trial_refuses_a_parameter_it_did_not_have(tmp_path):
    body = """
    import math

    def objective(trial):
        classifier = trial.suggest_categorical("classifier", ["svc", "forest"])
        if classifier == "svc":
            c = trial.suggest_float("svc_c", 1e-3, 1e3, log=True)
            return abs(math.log10(c))
        depth = trial.suggest_int("forest_depth", 2, 32, log=True)
        return 5.0 / depth

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=15)
    best = study.best_trial
    result["re_run_gives_the_best_value"] = objective(best) == study.best_value
    if best.params["classifier"] == "svc":
        other = lambda: best.suggest_int("forest_depth", 2, 32, log=True)
        missing = "forest_depth"
    else:
        other = lambda: best.suggest_float("svc_c", 1e-3, 1e3, log=True)
        missing = "svc_c"
    try:
        other()
    except ValueError as error:
        result["missing_is_named"] = missing in str(error)
    try:
        best.suggest_float("classifier", 0, 1)
    except ValueError:
        result["other_kind_refused"] = True
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab == {
        "re_run_gives_the_best_value": True,
        "missing_is_named": True,
        "other_kind_refused": True,
    }


def test_a_study_copied_into_another_with_add_trials(tmp_path):
    body = """
    def objective(trial):
        x = trial.suggest_float("x", 0, 10)
        if x > 8:
            raise optuna.TrialPruned()
        return x**2

    study = optuna.create_study(storage=storage_url, sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=8)
    other = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    other.add_trials(study.trials)
    result["copied"] = len(other.trials) == len(study.trials)
    result["same_states"] = [t.state for t in other.trials] == [t.state for t in study.trials]
    result["same_best"] = other.best_value == study.best_value
    other.optimize(objective, n_trials=2)
    result["after_two_more"] = len(other.trials) - len(study.trials)
    """
    from_optuna, from_tunelab = run_both(body, tmp_path)
    assert from_tunelab == from_optuna
    assert from_tunelab == {
        "copied": True, "same_states": True, "same_best": True, "after_two_more": 2
    }


def test_trials_that_no_study_could_hold_are_refused(tmp_path):
    body = """
    errors = {}
    attempts = {
        "complete_without_value": lambda: optuna.trial.create_trial(params={}),
        "value_and_values": lambda: optuna.trial.create_trial(value=1.0, values=[1.0]),
        "param_outside": lambda: optuna.trial.create_trial(
            params={"x": 11.0}, distributions={"x": FloatDistribution(0, 10)}, value=1.0
        ),
        "too_few_values": lambda: optuna.create_study(
            directions=["minimize", "maximize"]
        ).add_trial(optuna.trial.create_trial(value=1.0)),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            errors[name] = None
        except ValueError:
            errors[name] = "ValueError"
    result["errors"] = errors
    """
    from_optuna, from_tunelab = run_both_with_distributions(body, tmp_path)
    assert from_tunelab == from_optuna
    assert set(from_tunelab["errors"].values()) == {"ValueError"}


def test_the_best_trial_saved_and_re_run_later(tmp_path):
    body = """
    import copy
    import pickle

    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        trial.set_user_attr("squared", x**2)
        return x**2

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=6)
    kept = copy.deepcopy(study.best_trial)
    path = save_dir / "best_trial.pkl"
    path.write_bytes(pickle.dumps(study.best_trial))
    loaded = pickle.loads(path.read_bytes())
    result["copy_equals"] = kept == study.best_trial
    result["loaded_params"] = loaded.params == study.best_params
    result["loaded_re_runs"] = objective(loaded) == study.best_value
    result["copy_re_runs"] = objective(kept) == study.best_value
    """
    from_optuna, from_tunelab = (
        run_script(body, library, tmp_path / library, save_dir=tmp_path / library)
        for library in ("optuna", "tunelab")
    )
    assert from_tunelab == from_optuna
    assert set(from_tunelab.values()) == {True}
