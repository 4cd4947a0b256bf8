"""Reading what the training engine stores with a trial, as the storage holds it (strict JSON)."""

from __future__ import annotations

import json
import math

import pytest

from tunelab._attrs import DIVERGENCE_ATTR, VALIDATION_SIZE_ATTR
from tunelab.telemetry import (
    MAX_DISTRIBUTION_EPOCHS,
    MAX_DISTRIBUTION_LAYERS,
    QUANTILE_LEVELS,
    Divergence,
    EpochTelemetry,
    bounded_distributions,
    read_divergence,
    read_validation_size,
    spread_layers,
)
from tunelab.trial import TrialRecord, TrialState


def record(**system_attrs) -> TrialRecord:
    return TrialRecord(trial_id=0, number=0, state=TrialState.FAIL, system_attrs=system_attrs)


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_divergence_keeps_its_non_finite_loss_as_text_in_strict_json(loss):
    divergence = Divergence(epoch=2, step=7, loss=loss, lr=0.3)
    stored = json.loads(json.dumps(divergence.to_json(), allow_nan=False))
    assert stored == {"epoch": 2, "step": 7, "loss": str(loss), "lr": 0.3}
    read = Divergence.from_json(stored)
    assert (read.epoch, read.step, read.lr) == (2, 7, 0.3)
    assert str(read.loss) == str(loss) and not math.isfinite(read.loss)


def test_a_trial_that_did_not_diverge_has_no_divergence():
    assert read_divergence(record()) is None


def test_the_divergence_of_a_trial_is_read_from_its_record():
    stored = {"epoch": 1, "step": 3, "loss": "inf", "lr": 10.0}
    divergence = read_divergence(record(**{DIVERGENCE_ATTR: stored}))
    assert divergence == Divergence(epoch=1, step=3, loss=math.inf, lr=10.0)


def test_a_cross_validated_trial_diverged_in_its_first_fold_that_did():
    # Folds record their attributes as lists by fold (tunelab.cv.FoldTrial).
    per_fold = [None, {"epoch": 4, "step": 2, "loss": "nan", "lr": 0.5}, None]
    divergence = read_divergence(record(**{f"fold_{DIVERGENCE_ATTR}": per_fold}))
    assert divergence is not None and (divergence.epoch, divergence.step) == (4, 2)
    assert math.isnan(divergence.loss)


def epoch_with(number: int, distributions: dict) -> EpochTelemetry:
    return EpochTelemetry(number, 1.0, 1.0, 0.5, 0.5, 0.1, 1.0, 10.0,
                          distributions=distributions)


def test_a_long_run_keeps_distributions_of_a_bounded_number_of_epochs_first_and_last_among():
    quantiles = {"gradients": {"layer": [0.0] * len(QUANTILE_LEVELS)}}
    history: list[EpochTelemetry] = []
    for number in range(1, 301):
        history.append(epoch_with(number, quantiles))
        history[:] = bounded_distributions(history)
        held = [e.epoch for e in history if e.distributions]
        assert len(held) <= MAX_DISTRIBUTION_EPOCHS
        assert held[0] == 1 and held[-1] == number
    assert len(history) == 300  # the epochs' other numbers are all kept
    assert len(held) > MAX_DISTRIBUTION_EPOCHS // 2


def test_distributions_of_at_most_so_many_layers_first_and_last_among_them():
    names = [f"layer{i}" for i in range(40)]
    kept = spread_layers(names)
    assert len(kept) == MAX_DISTRIBUTION_LAYERS
    assert kept[0] == "layer0" and kept[-1] == "layer39" and kept == sorted(kept, key=names.index)
    assert spread_layers(names[:3]) == names[:3]


def test_an_epoch_round_trips_through_strict_json_with_what_was_not_measured_as_null():
    epoch = EpochTelemetry(3, 0.5, math.nan, math.nan, 0.9, math.nan, 1.0, 10.0,
                           distributions={"weights": {"fc": [float(i) for i in range(9)]}})
    stored = json.loads(json.dumps(epoch.to_json(), allow_nan=False))
    assert stored["val_loss"] is None and stored["lr"] is None
    back = EpochTelemetry.from_json(stored)
    assert math.isnan(back.val_loss) and math.isnan(back.train_metric) and back.val_metric == 0.9
    assert back.distributions == {"weights": {"fc": [float(i) for i in range(9)]}}


def test_the_validation_size_is_read_where_it_is_a_count():
    assert read_validation_size(record(**{VALIDATION_SIZE_ATTR: 360})) == 360
    for stored in (0, -3, True, 12.5, "360", None):
        assert read_validation_size(record(**{VALIDATION_SIZE_ATTR: stored})) is None
    assert read_validation_size(record()) is None
