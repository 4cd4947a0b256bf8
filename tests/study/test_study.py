"""Study: ask and tell, enqueued trials, best trials, dataframes."""

from __future__ import annotations

import re
import warnings

import pytest

import tunelab
import tunelab as optuna
from tests.study.objectives import returns_x, states
from tunelab._attrs import PRUNER_ATTR
from tunelab.exceptions import (
    ConfigError,
    TrialFinishedError,
    TunelabError,
)
from tunelab.space import CategoricalDistribution, FloatDistribution
from tunelab.trial import TrialState

# Ask and tell ------------------------------------------------------------------------------


def test_ask_then_tell_completes_the_trial(make_study):
    study = make_study()
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)
    assert study.trials[0].state is TrialState.RUNNING
    record = study.tell(trial, x * 2)
    assert record.state is TrialState.COMPLETE
    assert record.value == pytest.approx(x * 2)
    assert study.trials[0].params == {"x": x}


def test_ask_n_starts_n_distinct_running_trials(make_study):
    study = make_study()
    trials = study.ask(4)
    assert len(trials) == 4
    assert len({id(t) for t in trials}) == 4
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert study.storage.count_trials(study.study_id, [TrialState.RUNNING]) == 4


@pytest.mark.parametrize("n", [0, -1, True, 1.5])
def test_ask_n_must_be_a_positive_integer(n):
    with pytest.raises(TunelabError, match="n must be a positive integer"):
        tunelab.create_study().ask(n)


def test_tell_by_number_keeps_the_parameters_suggested(make_study):
    study = make_study()
    first, second = study.ask(2)
    x = second.suggest_int("units", 1, 64)
    record = study.tell(second.number, 5.0)
    assert (record.number, record.state, record.value) == (1, TrialState.COMPLETE, 5.0)
    assert record.params == {"units": x}
    assert study.trials[0].state is TrialState.RUNNING


@pytest.mark.parametrize(
    ("by", "error", "message"),
    [
        (lambda t: t, TrialFinishedError, "not RUNNING"),
        (lambda t: t.number, TunelabError, "trial number 0 is not a running trial"),
    ],
    ids=["trial", "number"],
)
def test_telling_a_trial_twice_raises(make_study, by, error, message):
    study = make_study()
    trial = study.ask()
    study.tell(by(trial), 1.0)
    with pytest.raises(error, match=message):
        study.tell(by(trial), 2.0)
    assert study.trials[0].value == 1.0


@pytest.mark.parametrize("by", [lambda t: t, lambda t: t.number], ids=["trial", "number"])
def test_tell_skip_if_finished_returns_the_finished_trial_unchanged(make_study, by):
    study = make_study()
    trial = study.ask()
    study.tell(by(trial), 1.0)
    record = study.tell(by(trial), 2.0, skip_if_finished=True)
    assert (record.number, record.value, record.state) == (0, 1.0, TrialState.COMPLETE)
    assert study.trials[0].value == 1.0


def test_tell_skip_if_finished_still_finishes_a_running_trial(make_study):
    study = make_study()
    trial = study.ask()
    assert study.tell(trial, 3.0, skip_if_finished=True).value == 3.0


def test_tell_unknown_number_raises(make_study):
    with pytest.raises(TunelabError, match="trial number 7 is not a running trial"):
        make_study().tell(7, 1.0)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (float("nan"), "finite"),
        ("abc", "must return a number"),
        ([1.0, 2.0], r"2 value\(s\)"),
        (None, "NoneType"),
    ],
)
def test_tell_with_bad_values_fails_the_trial_with_the_reason(make_study, values, reason):
    study = make_study()
    record = study.tell(study.ask(), values)
    assert record.state is TrialState.FAIL
    assert re.search(reason, record.fail_reason)


@pytest.mark.parametrize(
    ("state", "stored"),
    [(TrialState.PRUNED, TrialState.PRUNED), ("FAIL", TrialState.FAIL), ("fail", TrialState.FAIL)],
)
def test_tell_with_a_finished_state(make_study, state, stored):
    study = make_study()
    record = study.tell(study.ask(), state=state, fail_reason="out of memory")
    assert record.state is stored
    assert record.values is None


def test_tell_with_an_unknown_state_names_the_ones_to_use(make_study):
    with pytest.raises(TunelabError, match=r"tell\(state='DONE'\): use COMPLETE, PRUNED or FAIL"):
        study = make_study()
        study.tell(study.ask(), state="DONE")


def test_tell_with_running_state_raises(make_study):
    study = make_study()
    with pytest.raises(TunelabError, match="use COMPLETE, PRUNED or FAIL"):
        study.tell(study.ask(), 1.0, state=TrialState.RUNNING)


def test_tell_multi_objective_values(make_study):
    study = make_study(directions=["minimize", "maximize"])
    record = study.tell(study.ask(), (0.5, 0.9))
    assert record.values == (0.5, 0.9)


# Enqueued trials ---------------------------------------------------------------------------


def _lr_and_units(trial):
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_int("units", 8, 256)
    return 0.0


def test_enqueue_skip_if_exists_queues_parameters_once(make_study):
    study = make_study()
    assert study.enqueue_trial({"lr": 0.01, "units": 32}) == 0
    assert study.enqueue_trial({"lr": 0.01, "units": 32}, skip_if_exists=True) == 0
    study.optimize(_lr_and_units, n_trials=1)
    assert study.enqueue_trial({"units": 32, "lr": 0.01}, skip_if_exists=True) == 0
    assert study.enqueue_trial({"lr": 0.02, "units": 32}, skip_if_exists=True) == 1
    assert study.enqueue_trial({"lr": 0.02, "units": 32}) == 2  # without it, queued again
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] + [TrialState.WAITING] * 2


def test_enqueued_params_are_used_first_each_once(make_study):
    study = make_study()
    assert study.enqueue_trial({"lr": 0.01, "units": 32}) == 0
    assert study.enqueue_trial({"lr": 0.001, "units": 64}, user_attrs={"source": "paper"}) == 1
    study.optimize(_lr_and_units, n_trials=4)
    trials = study.trials
    assert [dict(r.params) for r in trials[:2]] == [
        {"lr": 0.01, "units": 32},
        {"lr": 0.001, "units": 64},
    ]
    assert trials[1].user_attrs["source"] == "paper"
    assert all(
        r.params not in ({"lr": 0.01, "units": 32}, {"lr": 0.001, "units": 64}) for r in trials[2:]
    )
    assert [r.number for r in trials] == [0, 1, 2, 3]


def test_partly_enqueued_trial_samples_the_other_params(make_study):
    study = make_study()
    study.enqueue_trial({"units": 16})
    study.optimize(_lr_and_units, n_trials=1)
    record = study.trials[0]
    assert record.params["units"] == 16
    assert 1e-4 <= record.params["lr"] <= 1e-1


def test_an_enqueued_trial_is_handed_to_exactly_one_asker(make_study):
    study = make_study()
    study.enqueue_trial({"units": 100})
    trials = study.ask(3)
    fixed = [t for t in trials if t.fixed_params]
    assert len(fixed) == 1 and fixed[0].fixed_params == {"units": 100}
    assert fixed[0].suggest_int("units", 8, 256) == 100
    assert study.storage.count_trials(study.study_id, [TrialState.WAITING]) == 0


def test_enqueued_value_outside_the_range_raises_a_clear_error(make_study):
    study = make_study()
    study.enqueue_trial({"units": 1000})
    trial = study.ask()
    with pytest.raises(
        TunelabError, match=r"enqueued value units=1000 is outside its distribution"
    ):
        trial.suggest_int("units", 8, 256)


def test_enqueued_value_outside_the_range_fails_the_trial_in_optimize(make_study):
    study = make_study()
    study.enqueue_trial({"units": 1000})
    study.optimize(_lr_and_units, n_trials=2)
    assert states(study) == [TrialState.FAIL, TrialState.COMPLETE]
    assert "enqueued value units=1000 is outside" in study.trials[0].fail_reason


def test_enqueuing_a_non_json_value_raises(make_study):
    with pytest.raises(
        TunelabError, match="units=\\[8, 16\\] is a list; parameters are JSON scalars"
    ):
        make_study().enqueue_trial({"units": [8, 16]})


def test_enqueued_int_for_a_float_parameter_is_returned_as_a_float(make_study):
    study = make_study()
    study.enqueue_trial({"x": 1})
    value = study.ask().suggest_float("x", 0.0, 2.0)
    assert type(value) is float and value == 1.0


# Best trials -----------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "best"), [("minimize", -3.0), ("maximize", 4.0)])
def test_best_trial_value_and_params(make_study, direction, best):
    study = make_study(direction=direction)
    for x in (1.0, -3.0, 4.0, 0.5):
        study.enqueue_trial({"x": x})
    study.optimize(returns_x, n_trials=4)
    assert study.best_value == best
    assert study.best_params == {"x": best}
    assert study.best_trial.params["x"] == best


def test_best_trial_ignores_failed_and_pruned_trials(make_study):
    study = make_study()
    study.tell(study.ask(), 5.0)
    study.tell(study.ask(), float("nan"))
    study.tell(study.ask(), state=TrialState.PRUNED)
    assert study.best_value == 5.0


def test_best_trial_without_a_completed_trial_raises(make_study):
    study = make_study()
    study.tell(study.ask(), state=TrialState.FAIL)
    with pytest.raises(TunelabError, match="has no completed trial that satisfies"):
        _ = study.best_trial


def test_best_trials_is_the_pareto_front(make_study):
    # (loss to minimize, accuracy to maximize)
    points = [(1.0, 0.5), (2.0, 0.9), (2.0, 0.6), (0.5, 0.4), (3.0, 0.9), (1.0, 0.5), (1.5, 0.45)]
    study = make_study(directions=["minimize", "maximize"])
    for point in points:
        study.tell(study.ask(), point)
    study.tell(study.ask(), state=TrialState.FAIL)
    # 2 is dominated by 1; 4 by 1 (same accuracy, higher loss); 6 by 0 and 5; 0 and 5 tie.
    assert [r.number for r in study.best_trials] == [0, 1, 3, 5]


def _tell_constrained(study, values, constraints):
    trial = study.ask()
    if constraints is not None:
        trial.set_constraints(constraints)
    study.tell(trial, values)


def test_best_trials_leave_out_trials_that_violate_a_constraint(make_study):
    study = make_study(directions=["minimize", "minimize"])
    _tell_constrained(study, (0.0, 0.0), [0.1])  # dominates all, but infeasible
    _tell_constrained(study, (1.0, 2.0), [0.0, -1.0])  # on the boundary: feasible
    _tell_constrained(study, (2.0, 1.0), None)  # no constraints: feasible
    _tell_constrained(study, (3.0, 3.0), [-5.0])  # feasible but dominated
    assert [r.number for r in study.best_trials] == [1, 2]


def test_best_trial_is_the_best_feasible_one(make_study):
    study = make_study()
    _tell_constrained(study, 0.0, [float("nan")])  # a constraint that is not a number fails
    _tell_constrained(study, 1.0, [2.0])
    _tell_constrained(study, 3.0, [-1.0])
    assert study.best_value == 3.0
    assert [r.number for r in study.best_trials] == [2]


def test_best_trial_when_no_trial_is_feasible_raises(make_study):
    study = make_study()
    _tell_constrained(study, 1.0, [1.0])
    assert study.best_trials == []
    with pytest.raises(TunelabError, match="satisfies its constraints"):
        _ = study.best_trial


def test_best_trials_of_a_single_objective_study_are_the_ties_for_best(make_study):
    study = make_study()
    for value in (2.0, 1.0, 1.0, 3.0):
        study.tell(study.ask(), value)
    assert [r.number for r in study.best_trials] == [1, 2]


# Dataframe ---------------------------------------------------------------------------------


def _three_trials(trial):
    trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    if trial.number == 0:
        trial.suggest_categorical("opt", ["sgd"])
    trial.set_user_attr("epochs", trial.number + 1)
    if trial.number == 2:
        raise ValueError("diverged")
    return float(trial.number)


def test_trials_dataframe_has_optunas_columns_in_optunas_order(make_study):
    study = make_study()
    study.optimize(_three_trials, n_trials=3)
    frame = study.trials_dataframe()
    shown = [c for c in frame.columns if not c.startswith("system_attrs_")]
    assert shown == [
        "number",
        "value",
        "datetime_start",
        "datetime_complete",
        "duration",
        "params_lr",
        "params_opt",
        "user_attrs_epochs",
        "state",
    ]
    assert list(frame["number"]) == [0, 1, 2]
    assert list(frame["state"]) == ["COMPLETE", "COMPLETE", "FAIL"]
    assert list(frame["value"][:2]) == [0.0, 1.0]
    assert list(frame["user_attrs_epochs"]) == [1, 2, 3]
    assert frame["params_opt"][0] == "sgd"
    assert "system_attrs_worker" in frame.columns  # tunelab's own, shown as Optuna shows its


def test_trials_dataframe_shows_the_fields_asked_for_with_two_level_columns(make_study):
    study = make_study()
    study.optimize(_three_trials, n_trials=3)
    frame = study.trials_dataframe(
        attrs=("number", "params", "fail_reason", "_trial_id"), multi_index=True
    )
    assert list(frame.columns) == [
        ("number", ""),
        ("params", "lr"),
        ("params", "opt"),
        ("fail_reason", ""),
        ("trial_id", ""),
    ]
    assert frame[("fail_reason", "")][2] == "ValueError: diverged"


def test_trials_dataframe_expands_intermediate_values_by_step(make_study):
    study = make_study()
    trial = study.ask()
    for step, value in ((0, 0.5), (2, 0.25)):
        trial.report(value, step)
    study.tell(trial, 0.25)
    frame = study.trials_dataframe(attrs=("number", "intermediate_values"))
    assert list(frame.columns) == ["number", "intermediate_values_0", "intermediate_values_2"]


@pytest.mark.parametrize(
    ("metric_names", "columns"),
    [(None, ["values_0", "values_1"]), (["loss", "acc"], ["values_loss", "values_acc"])],
)
def test_multi_objective_dataframe_names_value_columns(make_study, metric_names, columns):
    study = make_study(directions=["minimize", "maximize"], metric_names=metric_names)
    study.tell(study.ask(), (0.3, 0.8))
    study.tell(study.ask(), state=TrialState.PRUNED)
    frame = study.trials_dataframe()
    assert list(frame.columns[1:3]) == columns
    assert [frame[c][0] for c in columns] == [0.3, 0.8]
    assert frame[columns[0]].isna()[1]


def test_a_single_named_metric_names_the_value_column(make_study):
    study = make_study(metric_names=["loss"])
    study.tell(study.ask(), 0.5)
    assert study.trials_dataframe()["value_loss"][0] == 0.5


def test_metric_names_set_after_creation_are_kept_with_the_study(make_study):
    study = make_study(name="named", directions=["minimize", "maximize"])
    assert study.metric_names is None
    study.set_metric_names(["loss", "acc"])
    study.tell(study.ask(), (0.3, 0.8))
    assert study.metric_names == ("loss", "acc")
    assert list(study.trials_dataframe().columns[1:3]) == ["values_loss", "values_acc"]
    again = tunelab.load_study(name="named", storage=study.storage)
    assert again.metric_names == ("loss", "acc")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["loss"], "one name per objective \\(2\\)"),
        (["a", "a"], "has duplicates"),
        ("ab", "one name"),
    ],
)
def test_metric_names_that_do_not_fit_the_objectives_are_refused(make_study, names, message):
    study = make_study(directions=["minimize", "maximize"])
    with pytest.raises(ConfigError, match=message) as caught:
        study.set_metric_names(names)
    assert caught.value.field == "metric_names"
    assert study.metric_names is None


def test_a_study_without_trials_gives_an_empty_dataframe(make_study):
    assert make_study().trials_dataframe().empty


def test_trials_dataframe_with_an_unknown_field_names_the_known_ones(make_study):
    study = make_study()
    study.tell(study.ask(), 1.0)
    with pytest.raises(ConfigError, match="'loss' is not a field of a trial; use some of number"):
        study.trials_dataframe(attrs=("number", "loss"))


# Study attributes ----------------------------------------------------------------------------


def test_study_user_attrs_are_kept_in_the_storage(storage):
    study = optuna.create_study(study_name="s", storage=storage)
    study.set_user_attr("objective function", "quadratic")
    study.set_user_attr("contributors", ["Ada", "Alan"])
    assert optuna.load_study(study_name="s", storage=storage).user_attrs == {
        "objective function": "quadratic",
        "contributors": ["Ada", "Alan"],
    }
    study.user_attrs["contributors"].append("Grace")  # a copy: the stored value is unchanged
    assert study.user_attrs["contributors"] == ["Ada", "Alan"]


def test_a_value_set_as_a_study_user_attr_is_copied_when_set(make_study):
    study = make_study()
    tags = ["a"]
    study.set_user_attr("tags", tags)
    tags.append("b")
    assert study.user_attrs == {"tags": ["a"]}


def test_a_study_user_attr_must_be_json(make_study):
    with pytest.raises(TunelabError, match="attribute 'when': the value must be JSON"):
        make_study().set_user_attr("when", object())


def test_study_system_attrs_hold_tunelabs_own_and_the_scripts(make_study):
    study = make_study(heartbeat_interval=5.0)
    study.set_system_attr("origin", {"lab": 1})
    assert study.system_attrs["origin"] == {"lab": 1}
    assert "heartbeat" in study.system_attrs
    assert study.user_attrs == {}


# get_trials --------------------------------------------------------------------------------


def test_get_trials_takes_optunas_deepcopy_and_states_and_the_states_alone(make_study):
    study = make_study()
    study.tell(study.ask(), 1.0)
    study.tell(study.ask(), state=TrialState.PRUNED)
    complete = (TrialState.COMPLETE,)
    assert [r.number for r in study.get_trials(deepcopy=False, states=complete)] == [0]
    assert [r.number for r in study.get_trials(False, complete)] == [0]
    assert [r.number for r in study.get_trials(complete)] == [0]
    assert [r.number for r in study.get_trials(states=[TrialState.PRUNED])] == [1]
    assert len(study.get_trials()) == len(study.get_trials(None)) == len(study.trials) == 2


# ask(fixed_distributions) ------------------------------------------------------------------


FIXED = {
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
}


def test_ask_with_fixed_distributions_suggests_each_at_once(make_study):
    study = make_study(sampler="random")
    trial = study.ask(fixed_distributions=FIXED)
    assert set(trial.params) == {"optimizer", "lr"}
    assert trial.suggest_float("lr", 1e-4, 1e-1, log=True) == trial.params["lr"]
    study.tell(trial, 0.5)
    assert dict(study.trials[0].distributions) == FIXED


def test_ask_takes_the_distributions_first_as_optuna_does(make_study):
    trial = make_study().ask(FIXED)
    assert set(trial.params) == {"optimizer", "lr"}


def test_a_batch_asked_with_fixed_distributions_suggests_them_in_each_trial(make_study):
    trials = make_study(sampler="random").ask(3, fixed_distributions=FIXED)
    assert [set(t.params) for t in trials] == [{"optimizer", "lr"}] * 3


def test_ask_with_distributions_given_twice_is_refused(make_study):
    with pytest.raises(TunelabError, match="the distributions are given twice"):
        make_study().ask(FIXED, fixed_distributions=FIXED)


def test_the_study_keeps_the_name_of_the_pruner_its_trials_run_with(make_study, monkeypatch):
    study = make_study(pruner="asha")
    assert PRUNER_ATTR not in study.system_attrs  # not before a trial starts
    writes = []
    write = study.storage.set_study_system_attr
    monkeypatch.setattr(
        study.storage, "set_study_system_attr",
        lambda *args: writes.append(args[1:]) or write(*args),
    )
    study.optimize(returns_x, n_trials=3)
    study.ask()
    assert writes == [(PRUNER_ATTR, "asha")]  # once, not per trial
    study.pruner = optuna.pruners.NopPruner()
    study.ask()
    assert study.system_attrs[PRUNER_ATTR] == "none"
    again = optuna.load_study(study.study_name, study.storage, pruner="none")
    again.ask()
    assert writes == [(PRUNER_ATTR, "asha"), (PRUNER_ATTR, "none")]  # already kept: no write


# should_prune where nothing can prune ------------------------------------------------------


def _reported(study):
    trial = study.ask()
    trial.report(1.0, step=0)
    return trial


def test_should_prune_without_a_pruner_warns_once_naming_the_fix(make_study):
    study = make_study(pruner=optuna.pruners.NopPruner())
    first, second = _reported(study), _reported(study)
    with pytest.warns(UserWarning, match=r"always False.*NopPruner.*pruner='median'") as caught:
        assert first.should_prune() is False
    assert caught[0].filename == __file__  # it points at the call in the script
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert second.should_prune() is False


def test_should_prune_in_a_multi_objective_study_warns(make_study):
    trial = make_study(directions=["minimize", "maximize"]).ask()
    with pytest.warns(UserWarning, match="it has 2 objectives"):
        assert trial.should_prune() is False


def test_should_prune_with_the_default_pruner_does_not_warn(make_study):
    trial = _reported(make_study())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trial.should_prune() is False
