"""Samplers and pruners as Optuna scripts use them, run against Optuna and against tunelab: the
same script must give results of the same kind with both (who beats whom, what is feasible,
what was covered, what was pruned), never the same numbers."""

from __future__ import annotations

import pytest

from tests.compat.harness import run_both


def assert_same_kind(body: str, tmp_path) -> dict:
    """Run ``body`` with both libraries; every result must be True with each, and equal."""
    with_optuna, with_tunelab = run_both(body, tmp_path)
    assert with_optuna == with_tunelab, (with_optuna, with_tunelab)
    assert all(value is True for value in with_optuna.values()), with_optuna
    return with_tunelab


def test_tpe_with_optunas_arguments_beats_random_search(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            x = trial.suggest_float("x", -10, 10)
            y = trial.suggest_float("y", -10, 10)
            return (x - 2) ** 2 + (y + 3) ** 2

        def best_value(sampler):
            study = optuna.create_study(sampler=sampler)
            study.optimize(objective, n_trials=50)
            return study.best_value

        tpe = sorted(
            best_value(optuna.samplers.TPESampler(
                n_startup_trials=10, n_ei_candidates=24, multivariate=True,
                warn_independent_sampling=False, constant_liar=True, seed=seed,
            ))
            for seed in range(3)
        )
        rand = sorted(best_value(optuna.samplers.RandomSampler(seed=seed)) for seed in range(3))
        result["tpe_median_three_times_better"] = 3 * tpe[1] < rand[1]
        """,
        tmp_path,
    )


def test_nsgaii_with_constraints_keeps_the_pareto_front_feasible(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            x = trial.suggest_float("x", 0, 5)
            y = trial.suggest_float("y", 0, 3)
            return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2

        def constraints(trial):
            x, y = trial.params["x"], trial.params["y"]
            return [(x - 5) ** 2 + y**2 - 25, -((x - 8) ** 2) - (y + 3) ** 2 + 7.7]

        sampler = optuna.samplers.NSGAIISampler(
            population_size=20, mutation_prob=None, crossover_prob=0.9, swapping_prob=0.5,
            constraints_func=constraints, seed=0,
        )
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(objective, n_trials=100)

        front = study.best_trials
        feasible = [all(c <= 0 for c in constraints(t)) for t in study.trials]
        result["front_has_several_trials"] = len(front) >= 5
        result["front_is_feasible"] = all(all(c <= 0 for c in constraints(t)) for t in front)
        result["constraints_are_stored"] = all(
            len(t.system_attrs["constraints"]) == 2 for t in study.trials
        )
        result["later_generations_mostly_feasible"] = sum(feasible[60:]) >= 30
        """,
        tmp_path,
    )


MULTI_OBJECTIVE_TUTORIAL = """
def objective(trial):
    x = trial.suggest_float("x", 0, 5)
    y = trial.suggest_float("y", 0, 3)
    trial.set_constraint("circle", (x - 5) ** 2 + y**2 - 25)
    v0 = 4 * x**2 + 4 * y**2
    v1 = (x - 5) ** 2 + (y - 5) ** 2
    return v0, v1

study = optuna.create_study(directions=["minimize", "minimize"], sampler=SAMPLER)
study.optimize(objective, n_trials=80)

print(f"Number of trials on the Pareto front: {len(study.best_trials)}")
trial_with_lowest_v1 = min(study.best_trials, key=lambda t: t.values[1])

def dominates(a, b):
    return all(p <= q for p, q in zip(a.values, b.values)) and a.values != b.values

feasible = [
    t for t in study.trials
    if t.state == optuna.trial.TrialState.COMPLETE
    and all(c <= 0 for c in t.constraints.values())
]
front = study.best_trials
result["front_has_several_trials"] = len(front) >= 5
result["front_is_non_dominated"] = not any(dominates(a, b) for a in feasible for b in front)
result["front_holds_every_non_dominated_trial"] = all(
    t.number in {f.number for f in front}
    for t in feasible if not any(dominates(a, t) for a in feasible)
)
result["front_is_feasible"] = all(all(c <= 0 for c in t.constraints.values()) for t in front)
result["lowest_v1_is_on_the_front"] = trial_with_lowest_v1.number in {t.number for t in front}
"""


@pytest.mark.parametrize(
    "sampler", ["None", "optuna.samplers.TPESampler(seed=0)"], ids=["default", "tpe"]
)
def test_a_multi_objective_study_as_optunas_tutorial_writes_it(tmp_path, sampler):
    """Optuna's multi-objective tutorial with a named constraint: with the default sampler
    (Optuna's TPE, tunelab's auto) and with TPE itself (MOTPE in both)."""
    assert_same_kind(MULTI_OBJECTIVE_TUTORIAL.replace("SAMPLER", sampler), tmp_path)


def test_nsgaiii_spreads_a_constrained_three_objective_front(tmp_path):
    """NSGA-III as Optuna's documentation uses it: the sampler with its reference-point options,
    on a 3-objective problem (DTLZ2) with a constraint."""
    assert_same_kind(
        """
        import math

        def objective(trial):
            x = [trial.suggest_float(f"x{i}", 0, 1) for i in range(4)]
            g = sum((v - 0.5) ** 2 for v in x[2:])
            a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
            return (
                (1 + g) * math.cos(a) * math.cos(b),
                (1 + g) * math.cos(a) * math.sin(b),
                (1 + g) * math.sin(a),
            )

        def constraints(trial):
            return [0.2 - trial.params["x0"]]

        sampler = optuna.samplers.NSGAIIISampler(
            population_size=20, dividing_parameter=3, reference_points=None,
            constraints_func=constraints, seed=0,
        )
        study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)
        study.optimize(objective, n_trials=200)

        def dominates(a, b):
            return all(p <= q for p, q in zip(a.values, b.values)) and a.values != b.values

        feasible = [t for t in study.trials if constraints(t)[0] <= 0]
        front = study.best_trials
        result["front_has_many_trials"] = len(front) >= 15
        result["front_is_non_dominated"] = not any(
            dominates(a, b) for a in feasible for b in front
        )
        result["front_is_feasible"] = all(constraints(t)[0] <= 0 for t in front)
        result["later_generations_mostly_feasible"] = len(
            [t for t in study.trials[100:] if constraints(t)[0] <= 0]
        ) >= 80
        result["front_reaches_every_objective"] = all(
            min(t.values[k] for t in front) < 0.45 for k in range(3)
        )
        """,
        tmp_path,
    )


def test_brute_force_covers_a_conditional_space_once_and_stops(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            kind = trial.suggest_categorical("kind", ["float", "int"])
            if kind == "float":
                return trial.suggest_float("x", 1, 3, step=0.5)
            a = trial.suggest_int("a", 1, 3)
            b = trial.suggest_int("b", a, 3)
            return a + b

        study = optuna.create_study(sampler=optuna.samplers.BruteForceSampler(seed=0))
        study.optimize(objective)

        paths = [tuple(sorted(t.params.items())) for t in study.trials]
        result["eleven_trials"] = len(paths) == 11
        result["each_path_once"] = len(set(paths)) == len(paths)
        result["best_is_the_smallest"] = study.best_value == 1.0
        """,
        tmp_path,
    )


def test_partial_fixed_sampler_fixes_one_parameter_for_a_second_phase(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            x = trial.suggest_float("x", -1, 1)
            y = trial.suggest_int("y", -1, 1)
            return x**2 + y

        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(objective, n_trials=10)
        fixed_params = {"y": study.best_params["y"]}
        study.sampler = optuna.samplers.PartialFixedSampler(fixed_params, study.sampler)
        study.optimize(objective, n_trials=10)

        later = study.trials[10:]
        result["twenty_trials"] = len(study.trials) == 20
        result["y_fixed_afterwards"] = all(t.params["y"] == fixed_params["y"] for t in later)
        result["x_still_searched"] = len({t.params["x"] for t in later}) == 10
        """,
        tmp_path,
    )


def test_tpe_with_constraints_func_returns_a_feasible_best_trial(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            x = trial.suggest_float("x", -3, 3)
            y = trial.suggest_float("y", -3, 3)
            return x**2 + y**2

        def constraints(trial):
            return [1.0 - trial.params["x"] - trial.params["y"]]

        sampler = optuna.samplers.TPESampler(seed=1, constraints_func=constraints)
        study = optuna.create_study(sampler=sampler)
        study.optimize(objective, n_trials=60)

        feasible = [constraints(t)[0] <= 0 for t in study.trials]
        result["best_trial_is_feasible"] = constraints(study.best_trial)[0] <= 0
        result["best_is_above_the_unconstrained_minimum"] = study.best_value >= 0.5
        result["best_is_near_the_constrained_one"] = study.best_value < 1.0
        result["search_moves_to_the_feasible_side"] = sum(feasible[30:]) > sum(feasible[:30])
        """,
        tmp_path,
    )


def test_named_constraints_set_in_the_objective_keep_infeasible_trials_off_the_front(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            x = trial.suggest_float("x", 0, 5)
            y = trial.suggest_float("y", 0, 3)
            trial.set_constraint("circle", (x - 5) ** 2 + y**2 - 25)
            trial.set_constraint("band", 7.7 - (x - 8) ** 2 - (y + 3) ** 2)
            return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2

        sampler = optuna.samplers.NSGAIISampler(population_size=20, seed=0)
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(objective, n_trials=80)

        front = study.best_trials
        result["names"] = sorted(study.trials[0].constraints) == ["band", "circle"]
        result["front_has_several_trials"] = len(front) >= 3
        result["front_is_feasible"] = all(
            all(c <= 0 for c in t.constraints.values()) for t in front
        )
        result["some_trial_is_infeasible"] = any(
            any(c > 0 for c in t.constraints.values()) for t in study.trials
        )
        """,
        tmp_path,
    )


def test_a_user_written_sampler_built_on_optunas_samplers_runs_unchanged(tmp_path):
    assert_same_kind(
        """
        # TPE for the parameters every trial has, random search for the others.
        class TPEForSharedParamsSampler(optuna.samplers.BaseSampler):
            def __init__(self, seed=None):
                self._tpe = optuna.samplers.TPESampler(seed=seed, n_startup_trials=10)
                self._random = optuna.samplers.RandomSampler(seed=seed)

            def infer_relative_search_space(self, study, trial):
                return self._tpe.infer_relative_search_space(study, trial)

            def sample_relative(self, study, trial, search_space):
                return self._tpe.sample_relative(study, trial, search_space)

            def sample_independent(self, study, trial, param_name, param_distribution):
                return self._random.sample_independent(
                    study, trial, param_name, param_distribution
                )

            def before_trial(self, study, trial):
                self._tpe.before_trial(study, trial)

            def after_trial(self, study, trial, state, values):
                self._tpe.after_trial(study, trial, state, values)

        def objective(trial):
            x = trial.suggest_float("x", -10, 10)
            y = trial.suggest_float("y", -10, 10)
            loss = (x - 2) ** 2 + (y + 3) ** 2
            if trial.suggest_categorical("regularize", [True, False]):
                loss += trial.suggest_float("penalty", 0.0, 1.0)
            return loss

        def best_value(sampler):
            study = optuna.create_study(sampler=sampler)
            study.optimize(objective, n_trials=50)
            return study

        mine = [best_value(TPEForSharedParamsSampler(seed=seed)) for seed in range(3)]
        rand = [best_value(optuna.samplers.RandomSampler(seed=seed)) for seed in range(3)]
        mine_best = sorted(study.best_value for study in mine)
        rand_best = sorted(study.best_value for study in rand)
        result["all_complete"] = all(
            t.state == optuna.trial.TrialState.COMPLETE for study in mine for t in study.trials
        )
        result["penalty_only_where_regularized"] = all(
            ("penalty" in t.params) == t.params["regularize"]
            for study in mine for t in study.trials
        )
        result["median_three_times_better_than_random"] = 3 * mine_best[1] < rand_best[1]
        """,
        tmp_path,
    )


def test_a_user_written_pruner_prunes_the_last_place_trials(tmp_path):
    assert_same_kind(
        """
        class LastPlacePruner(optuna.pruners.BasePruner):
            def __init__(self, warmup_steps, warmup_trials):
                self._warmup_steps = warmup_steps
                self._warmup_trials = warmup_trials

            def prune(self, study, trial):
                step = trial.last_step
                if step is None or step < self._warmup_steps:
                    return False
                this_score = trial.intermediate_values[step]
                completed = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
                others = sorted(
                    t.intermediate_values[step]
                    for t in completed
                    if step in t.intermediate_values
                )
                return len(others) > self._warmup_trials and this_score < others[0]

        def objective(trial):
            rate = trial.suggest_float("rate", 0.01, 1.0, log=True)
            score = 0.0
            for step in range(10):
                score += rate * (1.0 - score) - (0.05 if step % 2 else 0.0)  # a noisy epoch
                trial.report(score, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return score

        last_place = LastPlacePruner(warmup_steps=1, warmup_trials=3)
        pruners = {
            "alone": last_place,
            "patient": optuna.pruners.PatientPruner(last_place, patience=0),
        }
        for name, pruner in pruners.items():
            study = optuna.create_study(
                direction="maximize",
                sampler=optuna.samplers.RandomSampler(seed=0),
                pruner=pruner,
            )
            study.optimize(objective, n_trials=30)
            pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
            result[f"{name}_prunes_some"] = len(pruned) >= 3
            result[f"{name}_best_trial_completed"] = (
                study.best_trial.state == optuna.trial.TrialState.COMPLETE
            )
        result["patient_prunes_only_after_a_dip"] = all(
            t.intermediate_values[t.last_step]
            < max(v for s, v in t.intermediate_values.items() if s < t.last_step)
            for t in pruned
        )
        """,
        tmp_path,
    )


def test_optunas_pruners_with_their_arguments_stop_the_slow_learners(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            rate = trial.suggest_float("rate", 0.001, 1.0, log=True)
            loss = 1.0
            for step in range(27):
                loss *= 1.0 - rate
                trial.report(loss, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return loss

        pruners = {
            "median": optuna.pruners.MedianPruner(
                n_startup_trials=5, n_warmup_steps=3, interval_steps=1, n_min_trials=1
            ),
            "halving": optuna.pruners.SuccessiveHalvingPruner(
                min_resource="auto", reduction_factor=4, min_early_stopping_rate=0
            ),
            "hyperband": optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=27, reduction_factor=3, bootstrap_count=0
            ),
        }
        for name, pruner in pruners.items():
            study = optuna.create_study(
                sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner
            )
            study.optimize(objective, n_trials=30)
            pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
            result[f"{name}_prunes"] = len(pruned) >= 3
            result[f"{name}_keeps_the_best"] = (
                study.best_trial.state == optuna.trial.TrialState.COMPLETE
            )
        """,
        tmp_path,
    )


def test_patient_pruner_stops_runs_that_turn_worse(tmp_path):
    assert_same_kind(
        """
        def objective(trial):
            rate = trial.suggest_float("rate", 0.01, 1.0, log=True)
            loss = 1.0
            for step in range(20):
                diverging = step >= 5 and rate >= 0.3  # too large a rate overshoots
                loss *= (1.0 + rate) if diverging else (1.0 - rate)
                trial.report(loss, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return loss

        pruner = optuna.pruners.PatientPruner(None, patience=2, min_delta=0.0)
        study = optuna.create_study(
            sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner
        )
        study.optimize(objective, n_trials=30)

        pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
        result["some_pruned"] = len(pruned) >= 3
        result["only_diverging_runs_pruned"] = all(t.params["rate"] >= 0.3 for t in pruned)
        result["pruned_three_steps_after_turning"] = all(t.last_step == 7 for t in pruned)
        """,
        tmp_path,
    )


@pytest.mark.filterwarnings("ignore:WilcoxonPruner is experimental")  # Optuna's, since 3.6
def test_wilcoxon_pruner_stops_trials_worse_on_the_instances_run_so_far(tmp_path):
    assert_same_kind(
        """
        import numpy as np

        instances = np.linspace(-1, 1, 40)

        def objective(trial):
            x = trial.suggest_float("x", -2, 2)
            # Shuffled, so that pruning does not favour the first instances.
            order = np.random.default_rng(trial.number).permutation(len(instances))
            losses = []
            for instance in order:
                losses.append(float((x - instances[instance]) ** 2))
                trial.report(losses[-1], int(instance))
                if trial.should_prune():
                    trial.set_user_attr("stopped_early", True)
                    return sum(losses) / len(losses)  # an estimate of the full mean
            return sum(losses) / len(losses)

        pruner = optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
        study = optuna.create_study(
            sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner
        )
        study.optimize(objective, n_trials=30)

        stopped = [t for t in study.trials if t.user_attrs.get("stopped_early")]
        best = study.best_trial
        result["some_stopped_early"] = len(stopped) >= 5
        result["stopped_ones_ran_fewer_instances"] = all(
            len(t.intermediate_values) < len(instances) for t in stopped
        )
        result["all_complete"] = all(
            t.state == optuna.trial.TrialState.COMPLETE for t in study.trials
        )
        result["best_ran_every_instance"] = len(best.intermediate_values) == len(instances)
        result["stopped_ones_are_worse"] = all(t.value > best.value for t in stopped)

        def pruned_when_raised(trial):
            x = trial.suggest_float("x", -2, 2)
            for instance in np.random.default_rng(trial.number).permutation(len(instances)):
                trial.report(float((x - instances[instance]) ** 2), int(instance))
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return float(np.mean((x - instances) ** 2))

        raising = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.RandomSampler(seed=1),
            pruner=optuna.pruners.WilcoxonPruner(p_threshold=0.05, n_startup_steps=5),
        )
        raising.optimize(pruned_when_raised, n_trials=20)
        pruned = raising.get_trials(states=(optuna.trial.TrialState.PRUNED,))
        result["raising_prunes_some"] = len(pruned) >= 3
        result["pruned_after_the_startup_steps"] = all(
            len(t.intermediate_values) >= 5 for t in pruned
        )
        """,
        tmp_path,
    )
