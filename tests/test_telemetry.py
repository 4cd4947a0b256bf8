"""Reading what the training engine stores with a trial, as the storage holds it (strict JSON)."""

from __future__ import annotations

import json
import math

import pytest

from tunelab._attrs import DIVERGENCE_ATTR
from tunelab.telemetry import Divergence, read_divergence
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
