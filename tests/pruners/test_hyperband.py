"""Hyperband: the brackets of Li et al. for several reduction factors and budgets, how trials
are dealt to brackets, successive halving within a bracket only, the auto budget, a whole
study, and validated options."""

from __future__ import annotations

import math
from collections import Counter

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import HyperbandPruner, SuccessiveHalvingPruner, make_pruner
from tunelab.trial import TrialState

from .helpers import converging_study, decide, history_study


def table(pruner, max_resource=None):
    return {b.index: (b.n_trials, list(b.rounds)) for b in pruner.brackets(max_resource)}


def test_brackets_match_table_1_of_li_et_al_for_eta_3_and_81_epochs():
    assert table(HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3)) == {
        4: (81, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]),
        3: (34, [(34, 3), (11, 9), (3, 27), (1, 81)]),
        2: (15, [(15, 9), (5, 27), (1, 81)]),
        1: (8, [(8, 27), (2, 81)]),
        0: (5, [(5, 81)]),
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # s_max = 3; n = ceil(4 / (s + 1) * 2 ** s); n_i = floor(n / 2 ** i); r_i = 8 * 2 ** (i - s)
        ({"max_resource": 8, "reduction_factor": 2}, {
            3: (8, [(8, 1), (4, 2), (2, 4), (1, 8)]),
            2: (6, [(6, 2), (3, 4), (1, 8)]),
            1: (4, [(4, 4), (2, 8)]),
            0: (4, [(4, 8)]),
        }),
        ({"max_resource": 64, "reduction_factor": 4}, {
            3: (64, [(64, 1), (16, 4), (4, 16), (1, 64)]),
            2: (22, [(22, 4), (5, 16), (1, 64)]),
            1: (8, [(8, 16), (2, 64)]),
            0: (4, [(4, 64)]),
        }),
        # R / r = 10 is no power of 3: s_max = 2, rounds at 20 // 3 ** k, the last at 20
        ({"min_resource": 2, "max_resource": 20, "reduction_factor": 3}, {
            2: (9, [(9, 2), (3, 6), (1, 20)]),
            1: (5, [(5, 6), (1, 20)]),
            0: (3, [(3, 20)]),
        }),
        # R = 20: the same budgets, not 1, 3, 20 (a last jump of almost 7 times the budget)
        ({"min_resource": 1, "max_resource": 20, "reduction_factor": 3}, {
            2: (9, [(9, 2), (3, 6), (1, 20)]),
            1: (5, [(5, 6), (1, 20)]),
            0: (3, [(3, 20)]),
        }),
        ({"min_resource": 1, "max_resource": 25, "reduction_factor": 3}, {
            2: (9, [(9, 2), (3, 8), (1, 25)]),
            1: (5, [(5, 8), (1, 25)]),
            0: (3, [(3, 25)]),
        }),
        ({"min_resource": 1, "max_resource": 100, "reduction_factor": 4}, {
            3: (64, [(64, 1), (16, 6), (4, 25), (1, 100)]),
            2: (22, [(22, 6), (5, 25), (1, 100)]),
            1: (8, [(8, 25), (2, 100)]),
            0: (4, [(4, 100)]),
        }),
        ({"min_resource": 3, "max_resource": 50, "reduction_factor": 2}, {
            4: (16, [(16, 3), (8, 6), (4, 12), (2, 25), (1, 50)]),
            3: (10, [(10, 6), (5, 12), (2, 25), (1, 50)]),
            2: (7, [(7, 12), (3, 25), (1, 50)]),
            1: (5, [(5, 25), (2, 50)]),
            0: (5, [(5, 50)]),
        }),
        ({"min_resource": 5, "max_resource": 5}, {0: (1, [(1, 5)])}),
    ],
)
def test_brackets_follow_the_formulas_for_other_factors_and_budgets(options, expected):
    assert table(HyperbandPruner(**options)) == expected


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_every_bracket_tops_out_at_max_resource_with_the_budgets_of_successive_halving(eta):
    for min_resource in range(1, 5):
        for max_resource in range(min_resource, 100):
            pruner = HyperbandPruner(
                min_resource=min_resource, max_resource=max_resource, reduction_factor=eta
            )
            rungs = SuccessiveHalvingPruner(
                min_resource=min_resource, reduction_factor=eta, max_resource=max_resource
            ).rung_steps(max_resource)
            for bracket in pruner.brackets():
                budgets = [budget for _, budget in bracket.rounds]
                assert budgets[-1] == max_resource
                assert budgets[:-1] == rungs[len(rungs) - bracket.index :]
                assert all(b <= max_resource - max_resource / eta for b in budgets[:-1])


def test_trials_are_dealt_to_brackets_in_proportion_to_their_sizes_and_evenly_spread():
    pruner = HyperbandPruner(max_resource=81)
    sizes = {b.index: b.n_trials for b in pruner.brackets()}
    cycle = sum(sizes.values())
    assert Counter(pruner.bracket_of(n).index for n in range(cycle)) == sizes
    first = Counter(pruner.bracket_of(n).index for n in range(20))
    for index, size in sizes.items():  # any stretch is spread like the whole, within one trial
        assert abs(first[index] - 20 * size / cycle) <= 1.0


def test_a_trial_is_judged_only_against_trials_of_its_own_bracket():
    pruner = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    brackets = [pruner.bracket_of(n).index for n in range(17)]
    # Find a new trial in the most aggressive bracket (s=2) with earlier trials of all kinds.
    number = next(n for n in range(6, 17) if brackets[n] == 2)
    mine = [n for n in range(number) if brackets[n] == 2]
    # Trials of other brackets have excellent values at step 1; the own bracket's are poor.
    curves = [[9.0, 1.0 if brackets[n] != 2 else 5.0] + [1.0] * 8 for n in range(number)]
    study = history_study(curves)
    assert len(mine) >= 2
    assert decide(pruner, study, [9.0, 4.0]) is False  # best of its bracket at step 1
    study = history_study(curves)
    assert decide(pruner, study, [9.0, 6.0]) is True  # worst of its bracket


def test_the_bracket_without_halving_never_stops_a_trial():
    pruner = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    number = next(n for n in range(17) if pruner.bracket_of(n).index == 0)
    study = history_study([[1.0] * 10 for _ in range(number)])
    assert decide(pruner, study, [50.0] * 9) is False


def test_auto_max_resource_waits_for_a_completed_trial_then_uses_its_last_step():
    pruner = HyperbandPruner(min_resource=1, reduction_factor=3)
    study = tunelab.create_study(pruner=pruner)
    first = study.ask()
    first.report(100.0, step=1)
    assert first.should_prune() is False  # nothing completed: no brackets yet
    for step in range(2, 10):
        first.report(100.0, step=step)
    study.tell(first, 100.0)
    second = study.ask()
    second.report(200.0, step=1)
    second.should_prune()
    assert pruner.bracket_of(1).rounds[-1][1] == 9
    assert [b.index for b in pruner.brackets(9)] == [2, 1, 0]


def test_a_nan_prunes_at_once():
    pruner = HyperbandPruner(max_resource=9)
    assert decide(pruner, tunelab.create_study(), [1.0, math.nan]) is True


def test_in_a_study_the_best_trial_completes_and_epochs_are_saved():
    finals = [(7 * n) % 31 / 31 for n in range(30)]
    study = converging_study({"name": "hyperband", "max_resource": 9}, finals, last_step=9)
    assert study.best_value == min(finals)
    pruned = [r for r in study.trials if r.state is TrialState.PRUNED]
    epochs = sum(len(r.intermediate_values) for r in study.trials)
    # measured: 20 of 30 pruned, 47 % of the epochs of no pruning (ASHA alone: 19 %; a
    # third of Hyperband's trials sit in brackets that stop few or none)
    assert len(pruned) >= 15
    assert epochs <= 0.55 * 9 * len(finals)


def test_in_a_study_of_20_epochs_trials_stop_only_at_their_brackets_budgets_below_20():
    finals = [(7 * n) % 31 / 31 for n in range(30)]
    pruner = HyperbandPruner(min_resource=1, max_resource=20, reduction_factor=3)
    study = converging_study(pruner, finals, last_step=20)
    assert study.best_value == min(finals)
    stopped = Counter(r.last_step for r in study.trials if r.state is TrialState.PRUNED)
    assert stopped.keys() == {2, 6}  # measured: 11 at step 2, 9 at step 6
    for record in study.trials:
        budgets = [budget for _, budget in pruner.bracket_of(record.number).rounds]
        assert record.last_step in budgets
        assert (record.last_step == 20) == (record.state is TrialState.COMPLETE)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"min_resource": 0}, "min_resource"), ({"reduction_factor": 1}, "reduction_factor"),
     ({"max_resource": "all"}, "max_resource"),
     ({"min_resource": 3, "max_resource": 2}, "max_resource")],
)
def test_bad_options_raise_a_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError) as caught:
        make_pruner({"name": "hyperband", **options})
    assert caught.value.field == field


def test_bootstrap_count_holds_in_every_bracket():
    import tunelab as optuna

    pruner = optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=9, reduction_factor=3, bootstrap_count=100
    )
    number = next(n for n in range(17) if pruner.bracket_of(n).index == 2)
    study = history_study([[9.0, 5.0] + [1.0] * 8 for _ in range(number)])
    assert decide(pruner, study, [9.0, 0.0]) is True  # the best value, on too little evidence
