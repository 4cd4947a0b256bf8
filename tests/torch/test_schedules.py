from __future__ import annotations

import math

import pytest

from tunelab.torch.recipe import Recipe
from tunelab.torch.schedules import (
    ONECYCLE_END,
    ONECYCLE_START,
    PlateauReducer,
    lr_factor,
    moves_within_epochs,
)

STEPS = 10  # optimizer steps per epoch in these tests


def factors(recipe: Recipe) -> list[float]:
    return [lr_factor(recipe, step, STEPS) for step in range(recipe.epochs * STEPS)]


def per_epoch(recipe: Recipe) -> list[float]:
    return factors(recipe)[::STEPS]


def test_constant_keeps_the_learning_rate():
    assert set(factors(Recipe(epochs=5))) == {1.0}


def test_step_multiplies_by_gamma_every_step_size_epochs():
    recipe = Recipe(epochs=7, schedule="step", step_size=3, gamma=0.5)
    assert per_epoch(recipe) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_exponential_multiplies_by_gamma_every_epoch():
    recipe = Recipe(epochs=4, schedule="exponential", gamma=0.9)
    assert per_epoch(recipe) == pytest.approx([1, 0.9, 0.81, 0.729])


def test_cosine_falls_from_one_to_the_floor_along_half_a_cosine():
    recipe = Recipe(epochs=10, schedule="cosine", min_lr_ratio=0.1)
    values = factors(recipe)
    assert values[0] == 1.0
    middle = values[len(values) // 2]
    assert middle == pytest.approx(0.1 + 0.9 * 0.5)
    assert values[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_onecycle_rises_to_the_peak_then_anneals_far_below_the_start():
    recipe = Recipe(epochs=10, schedule="onecycle", onecycle_pct=0.3)
    values = factors(recipe)
    peak = values.index(max(values))
    assert values[0] == pytest.approx(ONECYCLE_START)
    assert peak == 30 and values[peak] == pytest.approx(1.0)
    assert ONECYCLE_END <= values[-1] < ONECYCLE_START / 10
    assert all(a <= b for a, b in zip(values[:peak], values[1 : peak + 1]))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1 :]))


def test_warmup_ramps_linearly_then_hands_over_to_the_schedule():
    recipe = Recipe(epochs=5, schedule="cosine", warmup_epochs=1)
    values = factors(recipe)
    assert values[:STEPS] == pytest.approx([(i + 1) / STEPS for i in range(STEPS)])
    cosine_alone = Recipe(epochs=4, schedule="cosine")
    assert values[STEPS:] == pytest.approx(factors(cosine_alone))


def test_warmup_combines_with_step_decay_counted_after_the_warmup():
    recipe = Recipe(epochs=4, schedule="step", step_size=1, gamma=0.5, warmup_epochs=2)
    assert per_epoch(recipe)[2:] == [1.0, 0.5]
    assert factors(recipe)[0] == pytest.approx(1 / (2 * STEPS))


def test_plateau_reduces_after_patience_epochs_without_improvement():
    reducer = PlateauReducer(Recipe(schedule="plateau", plateau_patience=2, gamma=0.1), True)
    seen = [reducer.end_epoch(metric) for metric in [0.5, 0.6, 0.6, 0.59, 0.7, 0.6, 0.6]]
    assert seen == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])


def test_plateau_watches_a_falling_metric_when_lower_is_better():
    reducer = PlateauReducer(Recipe(schedule="plateau", plateau_patience=1, gamma=0.5), False)
    assert [reducer.end_epoch(m) for m in [1.0, 0.8, 0.9]] == [1, 1, 0.5]


def test_plateau_is_inactive_for_other_schedules():
    reducer = PlateauReducer(Recipe(schedule="cosine", plateau_patience=1), True)
    assert [reducer.end_epoch(0.5) for _ in range(5)] == [1.0] * 5


def test_factor_never_goes_negative_or_above_one():
    for schedule in ("constant", "step", "exponential", "cosine", "onecycle"):
        values = factors(Recipe(epochs=6, schedule=schedule, warmup_epochs=1))
        assert all(0 < v <= 1.0 + 1e-12 and math.isfinite(v) for v in values), schedule


@pytest.mark.parametrize(
    "schedule", ["constant", "step", "exponential", "cosine", "onecycle", "plateau"]
)
@pytest.mark.parametrize("warmup", [0.0, 1.5])
def test_moves_within_epochs_says_whether_an_epoch_has_more_than_one_factor(schedule, warmup):
    recipe = Recipe(epochs=6, schedule=schedule, step_size=2, gamma=0.5, warmup_epochs=warmup)
    all_factors = factors(recipe)
    per_epoch = [set(all_factors[e * STEPS:(e + 1) * STEPS]) for e in range(recipe.epochs)]
    assert moves_within_epochs(recipe) == any(len(epoch) > 1 for epoch in per_epoch)
