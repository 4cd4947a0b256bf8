"""Tests of the training doctor.

The detectors are tested on synthetic records: telemetry and divergence records written as the
training engine writes them and read back from JSON, as a stored trial holds them, with numbers
on either side of each threshold. How a training that sits near a threshold or near divergence
ends depends on the machine's arithmetic (instruction set, summation order), so real trainings
with tunelab's engine only check the whole path (trainer, storage, doctor) in regimes whose
findings are the same on every math path: a healthy small-lr Adam run, a deep sigmoid network,
zero initialization, a learning rate of 10 (diverges at once), a learning rate of 1e-6 (checked
plain, with MKL_CBWR=COMPATIBLE and with ATEN_CPU_CAPABILITY=default).
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import torch
from rich.console import Console

import tunelab
from tunelab._attrs import DIVERGENCE_ATTR, TELEMETRY_ATTR, VALIDATION_SIZE_ATTR
from tunelab.analysis import doctor
from tunelab.analysis.doctor import (
    ALL_TRIALS_PRUNED,
    DYING_RELU,
    EXPLODING_GRADIENTS,
    INFO,
    LR_TOO_HIGH,
    LR_TOO_LOW,
    MANY_DIVERGED_TRIALS,
    MANY_FAILED_TRIALS,
    METRIC_SATURATED,
    MOST_TRIALS_PRUNED,
    NO_TELEMETRY,
    OVERFITTING,
    PARAM_AT_RANGE_EDGE,
    PLATEAU,
    PRUNER_NEVER_CONSULTED,
    PRUNING_WITHOUT_PRUNER,
    SATURATED_ACTIVATIONS,
    UNDERFITTING,
    VALIDATION_TOO_SMALL,
    VANISHING_GRADIENTS,
    WARNING,
    Finding,
    detect_diverged_trials,
    detect_failed_trials,
    diagnose_study,
    diagnose_trial,
    findings_table,
    study_verdict,
    trials_verdict,
)
from tunelab.study import request_prune
from tunelab.telemetry import (
    HOW_TO_RECORD,
    ActivationStats,
    Divergence,
    EpochTelemetry,
    read_telemetry,
)
from tunelab.torch import Task
from tunelab.trial import TrialRecord, TrialState

DIGITS = {"name": "digits"}
MLP = {"name": "mlp", "depth": 2, "width": 64}
HEALTHY_NORMS = {"blocks.0.linear": 0.5, "blocks.1.linear": 0.7, "head": 1.0}
HEALTHY_DEAD = {"blocks.0.act": 0.02, "blocks.1.act": 0.03}


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def the(code: str, findings: list[Finding]) -> Finding:
    (finding,) = [f for f in findings if f.code == code]
    return finding


# --- synthetic records ------------------------------------------------------------------------


def epoch(
    number: int,
    train_loss: float,
    val_loss: float | None = None,
    *,
    lr: float = 0.01,
    grad_norm: Mapping[str, float] = HEALTHY_NORMS,
    dead: Mapping[str, float] = HEALTHY_DEAD,
    kind: str = "ReLU",
) -> EpochTelemetry:
    """One epoch's telemetry; what a test leaves out is a healthy run's (validation loss: the
    training loss)."""
    return EpochTelemetry(
        epoch=number,
        train_loss=train_loss,
        val_loss=train_loss if val_loss is None else val_loss,
        train_metric=0.9,
        val_metric=0.9,
        lr=lr,
        epoch_time=0.5,
        peak_memory_mb=200.0,
        grad_norm=dict(grad_norm),
        activations={
            name: ActivationStats(mean=0.3, std=0.5, dead=fraction, kind=kind)
            for name, fraction in dead.items()
        },
    )


def curve(
    train_losses: Sequence[float], val_losses: Sequence[float] | None = None, **options: Any
) -> list[EpochTelemetry]:
    """Epochs 1, 2, ... with these losses."""
    val_losses = train_losses if val_losses is None else val_losses
    pairs = zip(train_losses, val_losses, strict=True)
    return [epoch(n, train, val, **options) for n, (train, val) in enumerate(pairs, start=1)]


def stored(
    epochs: Sequence[EpochTelemetry],
    *,
    divergence: Divergence | None = None,
    params: Mapping[str, Any] | None = None,
    state: TrialState | None = None,
    number: int = 0,
    fail_reason: str | None = None,
    **system_attrs: Any,
) -> TrialRecord:
    """The record of a trial whose training wrote ``epochs`` (and ``divergence``), as the
    storage gives it back: its system attributes through JSON."""
    attrs = {TELEMETRY_ATTR: [e.to_json() for e in epochs], **system_attrs}
    if divergence is not None:
        attrs[DIVERGENCE_ATTR] = divergence.to_json()
    if state is None:
        state = TrialState.COMPLETE if divergence is None else TrialState.FAIL
    return TrialRecord(
        trial_id=number,
        number=number,
        state=state,
        params=dict(params or {}),
        system_attrs=json.loads(json.dumps(attrs)),
        fail_reason=fail_reason,
    )


def diagnosed(epochs: Sequence[EpochTelemetry], **record: Any) -> list[Finding]:
    return diagnose_trial(stored(epochs, **record))


def geometric(first: float, floor: float, ratio: float, n_epochs: int = 30) -> list[float]:
    """A loss that falls from ``first`` towards ``floor``, by ``ratio`` of the gap each epoch."""
    return [floor + (first - floor) * ratio**k for k in range(n_epochs)]


# --- divergence -------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_recorded_divergence_is_exploding_gradients_and_a_too_high_lr(loss):
    # Five good epochs at a decayed rate, then the loss stopped being finite.
    epochs = curve([1.2, 0.7, 0.55, 0.5, 0.45], lr=0.1)
    findings = diagnosed(epochs, divergence=Divergence(epoch=6, step=10, loss=loss, lr=0.3))
    assert codes(findings) == {EXPLODING_GRADIENTS, LR_TOO_HIGH}
    where = f"The training loss became {loss} in epoch 6, step 10"
    assert the(EXPLODING_GRADIENTS, findings).evidence == f"{where}, and training stopped there."
    assert the(LR_TOO_HIGH, findings).evidence == f"{where}: the run diverged."
    assert "grad_clip_norm: 1.0" in the(EXPLODING_GRADIENTS, findings).advice
    # The base rate the record keeps, not the lower one the last epoch ended with.
    assert "lr: 0.03 instead of 0.3" in the(LR_TOO_HIGH, findings).advice


def test_the_searched_lr_comes_before_the_one_the_divergence_records():
    divergence = Divergence(epoch=1, step=2, loss=math.nan, lr=0.3)
    findings = diagnosed([], divergence=divergence, params={"lr": 0.5})
    assert "lr: 0.05 instead of 0.5" in the(LR_TOO_HIGH, findings).advice


def test_a_cross_validated_trial_that_diverged_in_a_fold_is_diagnosed_alike():
    per_fold = [None, Divergence(epoch=2, step=4, loss=math.inf, lr=1.0).to_json()]
    findings = diagnosed([], state=TrialState.FAIL, fold_divergence=per_fold)
    assert codes(findings) == {EXPLODING_GRADIENTS, LR_TOO_HIGH}
    assert "became inf in epoch 2, step 4" in the(LR_TOO_HIGH, findings).evidence


# --- exploding gradients without divergence ---------------------------------------------------


def growing_norms(train_losses: Sequence[float], totals: Sequence[float]) -> list[EpochTelemetry]:
    """Epochs whose two layers' gradient norms make these totals (3-4-5 triangles)."""
    return [
        epoch(n, loss, grad_norm={"blocks.0.linear": 0.6 * total, "head": 0.8 * total})
        for n, (loss, total) in enumerate(zip(train_losses, totals, strict=True), start=1)
    ]


def test_gradient_norms_that_grow_while_the_loss_rises_are_exploding():
    epochs = growing_norms([1.2, 0.6, 0.5, 0.9, 2.3], [1.0, 1.5, 2.0, 5.0, 15.0])
    findings = diagnosed(epochs)
    assert codes(findings) == {EXPLODING_GRADIENTS, LR_TOO_HIGH}
    assert the(EXPLODING_GRADIENTS, findings).evidence == (
        "The total gradient norm grew from 1 in epoch 1 to 15 in epoch 5 (15x) while the "
        "training loss rose from 0.5 (epoch 3) to 2.3."
    )


@pytest.mark.parametrize(("growth", "exploding"), [(9.5, False), (10.5, True)])
def test_exploding_takes_a_tenfold_growth_of_the_gradient_norm(growth, exploding):
    epochs = growing_norms([1.2, 0.6, 0.5, 0.9, 2.3], [1.0, 1.5, 2.0, 5.0, growth])
    assert (EXPLODING_GRADIENTS in codes(diagnosed(epochs))) is exploding


def test_gradient_tails_that_widen_while_the_loss_rises_are_exploding():
    # The norms stay as they are (a few large values averaged away); the 1st and 99th
    # percentiles of the gradient values widen twelvefold.
    losses, widths = [1.0, 0.8, 0.9, 1.2], [0.01, 0.02, 0.05, 0.12]
    epochs = [
        dataclasses.replace(e, distributions={"gradients": {"head": [
            -2 * w, -w, -w / 2, -w / 10, 0.0, w / 10, w / 2, w, 2 * w
        ]}})
        for e, w in zip(curve(losses), widths)
    ]
    finding = the(EXPLODING_GRADIENTS, diagnosed(epochs))
    assert finding.evidence == (
        "The gradients' tail (the 1st or 99th percentile of a layer's values) grew from 0.01 in "
        "epoch 1 to 0.12 in epoch 4 (12x) while the training loss rose from 0.8 (epoch 2) to 1.2."
    )


def test_gradient_norms_that_grow_while_the_loss_falls_are_not_exploding():
    # A network leaving its flat initial region: larger gradients, better loss.
    epochs = growing_norms([2.3, 1.5, 0.9, 0.6, 0.5], [1.0, 4.0, 9.0, 15.0, 20.0])
    assert diagnosed(epochs) == []


# --- learning rate ----------------------------------------------------------------------------


def test_a_training_loss_that_jumps_between_epochs_means_a_too_high_lr():
    findings = diagnosed(curve([1.0, 0.5, 0.8, 0.4, 0.6]))
    assert codes(findings) == {LR_TOO_HIGH}
    assert the(LR_TOO_HIGH, findings).evidence == (
        "The training loss rose 2 time(s) between epochs: 0.5 -> 0.8 (epoch 2 -> 3), "
        "0.4 -> 0.6 (epoch 4 -> 5)."
    )
    # Without a searched rate or a divergence, the rate the epochs ended with.
    assert "lr: 0.001 instead of 0.01" in the(LR_TOO_HIGH, findings).advice


@pytest.mark.parametrize(
    "train_losses",
    [[1.0, 0.5, 0.54], [0.34, 0.05, 0.008, 0.018]],
    ids=["rise-under-10%", "rise-within-noise-near-zero"],
)
def test_small_rises_of_the_training_loss_are_not_a_too_high_lr(train_losses):
    assert LR_TOO_HIGH not in codes(diagnosed(curve(train_losses)))


TINY_LR_VAL_LOSSES = [2.30502, 2.30471, 2.3044, 2.30408, 2.30377]


def test_a_loss_that_falls_every_epoch_but_barely_means_a_too_low_lr():
    findings = diagnosed(curve(TINY_LR_VAL_LOSSES, lr=1e-6))
    assert codes(findings) == {LR_TOO_LOW}
    assert the(LR_TOO_LOW, findings).evidence == (
        "The validation loss fell in every epoch but only from 2.305 (epoch 1) to 2.3038 "
        "(epoch 5), 0.0542% in all, at lr=1e-06."
    )
    assert "lr: 1e-05 instead of 1e-06" in the(LR_TOO_LOW, findings).advice


@pytest.mark.parametrize(
    "val_losses",
    [[2.3, 2.2, 2.1, 2.0, 1.9], [2.305, 2.304, 2.3045, 2.303, 2.302]],
    ids=["falls-by-more-than-2%", "rises-once"],
)
def test_a_loss_that_falls_fast_or_not_every_epoch_is_not_a_too_low_lr(val_losses):
    assert LR_TOO_LOW not in codes(diagnosed(curve(val_losses, lr=1e-6)))


def test_a_flat_loss_with_vanishing_gradients_is_not_blamed_on_the_lr():
    starved = {"blocks.0.linear": 1e-12, "head": 0.1}
    findings = diagnosed(curve(TINY_LR_VAL_LOSSES, lr=1e-6, grad_norm=starved))
    assert codes(findings) == {VANISHING_GRADIENTS}


# --- gradients and units ----------------------------------------------------------------------


def test_a_first_layer_with_a_hundredth_of_the_last_ones_gradient_is_vanishing():
    norms = {"blocks.0.linear": 1e-9, "blocks.1.linear": 1e-5, "blocks.2.linear": 0.05,
             "head": 0.1}
    findings = diagnosed(curve([2.31, 2.305, 2.304], grad_norm=norms))
    assert codes(findings) == {VANISHING_GRADIENTS}
    finding = the(VANISHING_GRADIENTS, findings)
    assert finding.severity == WARNING
    assert finding.evidence == (
        "In epoch 3 the gradient norm of blocks.0.linear (1e-09) is 1e-08 times that of head "
        "(0.1); 2 of 4 layers (blocks.0.linear, blocks.1.linear) get less than 1% of head's "
        "gradient."
    )
    assert "init: kaiming_normal" in finding.advice and "model.batch_norm: true" in finding.advice


@pytest.mark.parametrize(("first_norm", "vanishing"), [(1.1e-3, False), (0.9e-3, True)])
def test_vanishing_takes_a_ratio_under_one_hundredth(first_norm, vanishing):
    norms = {"blocks.0.linear": first_norm, "head": 0.1}
    findings = diagnosed(curve([1.0, 0.8, 0.6], grad_norm=norms))
    assert (VANISHING_GRADIENTS in codes(findings)) is vanishing


def test_layers_without_any_gradient_are_frozen_not_vanishing():
    norms = {"blocks.0.linear": 0.0, "blocks.1.linear": 0.05, "head": 0.1}
    assert diagnosed(curve([1.0, 0.8, 0.6], grad_norm=norms)) == []


def test_gradients_are_judged_by_the_last_epoch_whose_norms_are_finite():
    # Float16 overflows that the gradient scaler skipped, in the last epoch.
    epochs = curve([1.0, 0.8], grad_norm={"blocks.0.linear": 1e-9, "head": 0.1})
    epochs.append(epoch(3, 0.6, grad_norm={"blocks.0.linear": math.inf, "head": 0.1}))
    findings = diagnosed(epochs)
    assert the(VANISHING_GRADIENTS, findings).evidence.startswith("In epoch 2 ")


def test_relu_layers_that_end_with_half_their_units_dead_are_dying():
    epochs = [epoch(1, 1.0, dead={"blocks.0.act": 0.05, "blocks.1.act": 0.62})]
    epochs += [epoch(n, 1.0 - 0.1 * n) for n in (2, 3, 4)]
    epochs.append(epoch(5, 0.5, dead={"blocks.0.act": 0.1, "blocks.1.act": 0.72}))
    findings = diagnosed(epochs, params={"lr": 0.1})
    assert codes(findings) == {DYING_RELU}
    finding = the(DYING_RELU, findings)
    assert finding.evidence == (
        "In epoch 5, 1 activation layer(s) have at least 50% dead units (same output for "
        "every probe input): blocks.1.act: 72% (epoch 1: 62%)."
    )
    assert "model.activation: leaky_relu" in finding.advice
    assert "lr: 0.01 instead of 0.1" in finding.advice


@pytest.mark.parametrize(("dead", "dying"), [(0.49, False), (0.5, True)])
def test_dying_takes_half_the_units_of_a_layer(dead, dying):
    findings = diagnosed(curve([1.0, 0.8, 0.6], dead={"blocks.0.act": dead}))
    assert (DYING_RELU in codes(findings)) is dying


def test_saturated_sigmoid_units_are_not_dying_relus():
    epochs = curve([2.31, 2.305, 2.304], dead={"blocks.0.act": 1.0}, kind="Sigmoid")
    assert DYING_RELU not in codes(diagnosed(epochs))


def with_outputs(epochs: list[EpochTelemetry], **quantiles: list[float]) -> list[EpochTelemetry]:
    """The epochs with these quantiles of each named layer's outputs."""
    return [
        dataclasses.replace(e, distributions={"activations": quantiles}) for e in epochs
    ]


# Outputs of a sigmoid layer: most near 0 or 1 / spread around the middle.
PILED = [0.0, 0.0, 0.001, 0.01, 0.6, 0.995, 0.999, 1.0, 1.0]
SPREAD = [0.05, 0.2, 0.3, 0.43, 0.5, 0.58, 0.69, 0.77, 0.95]


def test_sigmoid_outputs_piled_against_the_bounds_are_saturated():
    epochs = with_outputs(curve([0.7, 0.69, 0.69], kind="Sigmoid",
                                dead={"1": 0.0, "3": 0.0}), **{"1": SPREAD, "3": PILED})
    findings = diagnosed(epochs)
    assert SATURATED_ACTIVATIONS in codes(findings)
    finding = the(SATURATED_ACTIVATIONS, findings)
    assert finding.evidence.startswith("In epoch 3, 1 layer(s) have at least 50% of their "
                                       "outputs within 5% of the activation's bounds")
    assert finding.evidence.endswith(": 3: 54.5%.")  # read off the quantiles
    assert "init: xavier_normal" in finding.advice


def test_the_bounds_are_the_activations_own():
    # The same numbers are saturated for a sigmoid (0 to 1), in the middle for a tanh (-1 to 1),
    # and say nothing about a ReLU, which has no upper bound.
    for kind, saturated in (("Sigmoid", True), ("Tanh", False), ("ReLU", False)):
        epochs = with_outputs(curve([0.7, 0.69, 0.69], kind=kind, dead={"1": 0.0}), **{"1": PILED})
        assert (SATURATED_ACTIVATIONS in codes(diagnosed(epochs))) is saturated, kind


def test_telemetry_without_distributions_is_not_judged_saturated():
    assert SATURATED_ACTIVATIONS not in codes(diagnosed(curve([0.7, 0.69], kind="Sigmoid")))


def test_older_telemetry_without_layer_kinds_is_judged_by_the_searched_activation():
    saturated = [e.to_json() for e in curve([2.31, 2.305, 2.304], dead={"blocks.0.act": 1.0})]
    for stats in (s for e in saturated for s in e["activations"].values()):
        del stats["kind"]
    without_kinds = stored([], telemetry=saturated)
    assert read_telemetry(without_kinds)[0].activations["blocks.0.act"].kind == ""
    assert DYING_RELU in codes(diagnose_trial(without_kinds))  # read as dead ReLUs
    searched = stored([], telemetry=saturated, params={"model.activation": "sigmoid"})
    assert DYING_RELU not in codes(diagnose_trial(searched))


# --- fit --------------------------------------------------------------------------------------

# A wide network on few samples: the training loss keeps falling, the validation loss turns
# at epoch 12 and climbs.
MEMORIZING_TRAIN = geometric(2.0, 0.0, 0.85)
MEMORIZING_VAL = [0.5 + 0.01 * (n - 12) ** 2 for n in range(1, 31)]


def test_a_validation_loss_that_turns_up_while_the_training_loss_falls_is_overfitting():
    findings = diagnosed(curve(MEMORIZING_TRAIN, MEMORIZING_VAL))
    assert codes(findings) == {OVERFITTING}
    finding = the(OVERFITTING, findings)
    assert finding.evidence.startswith(
        "The validation loss rose from 0.5 at epoch 12 to 3.74 at epoch 30 (+648%) while the "
        "training loss fell from"
    )
    assert "weight_decay" in finding.advice and "model.dropout" in finding.advice
    assert "stop near epoch 12" in finding.advice and "early_stopping_patience" in finding.advice


@pytest.mark.parametrize(
    "val_losses",
    [
        [0.5 + (0.01 if n < 12 else 0.001) * abs(n - 12) for n in range(1, 31)],  # up 3.6%
        [*[1.0 - 0.01 * n for n in range(1, 29)], 0.8, 0.9],  # up since epoch 28 only
    ],
    ids=["rise-under-5%", "best-2-epochs-before-the-end"],
)
def test_a_small_or_short_rise_of_the_validation_loss_is_not_overfitting(val_losses):
    assert OVERFITTING not in codes(diagnosed(curve(MEMORIZING_TRAIN, val_losses)))


# A model too small for its data: the training loss stalls at 70% of where it started.
STALLED_TRAIN = geometric(2.3, 1.6, 0.7)


def test_a_training_loss_that_stalls_high_with_validation_alike_is_underfitting():
    findings = diagnosed(curve(STALLED_TRAIN, [loss + 0.05 for loss in STALLED_TRAIN]))
    assert codes(findings) == {UNDERFITTING}
    finding = the(UNDERFITTING, findings)
    assert finding.evidence.startswith(
        "The training loss went from 2.3 (epoch 1) to 1.6 (epoch 30), improved by"
    )
    assert "over the last 8 epochs" in finding.evidence
    assert "model.width" in finding.advice


def test_a_stalled_loss_whose_validation_lies_far_above_is_a_plateau_not_underfitting():
    # Validation 30% above training: the model fits more than it generalizes.
    findings = diagnosed(curve(STALLED_TRAIN, [1.3 * loss for loss in STALLED_TRAIN]))
    assert codes(findings) == {PLATEAU}


# A constant rate on noisy data: both losses reach their floor early and stay there.
NOISY_TRAIN = geometric(1.0, 0.4, 0.6)
NOISY_VAL = geometric(1.0, 0.55, 0.6)


def test_a_constant_rate_that_stalls_long_before_the_end_is_a_plateau():
    findings = diagnosed(curve(NOISY_TRAIN, NOISY_VAL, lr=0.1))
    assert codes(findings) == {PLATEAU}
    finding = the(PLATEAU, findings)
    assert finding.severity == INFO
    assert finding.evidence.startswith("From epoch 23 to 30 the learning rate stayed at 0.1;")
    assert "schedule: cosine" in finding.advice


def test_a_stall_while_a_schedule_lowers_the_rate_is_no_plateau():
    epochs = [epoch(n, train, val, lr=0.1 * 0.9**n)
              for n, (train, val) in enumerate(zip(NOISY_TRAIN, NOISY_VAL, strict=True), start=1)]
    assert diagnosed(epochs) == []


def test_a_stall_near_zero_is_convergence_not_a_plateau():
    converged = geometric(1.0, 0.005, 0.6)
    assert diagnosed(curve(converged, [loss + 0.2 for loss in converged], lr=0.1)) == []


def test_a_trial_without_telemetry_is_reported_as_not_checked():
    study = tunelab.create_study(storage="memory", seed=0)
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=1)
    (finding,) = diagnose_trial(study.trials[0])
    assert (finding.code, finding.severity, finding.trial) == (NO_TELEMETRY, INFO, 0)
    assert finding.title == "Not checked: no training telemetry"
    assert finding.evidence.startswith("Trial 0 recorded no per-epoch telemetry, so its training")
    assert finding.advice == f"To record telemetry while the trials train, {HOW_TO_RECORD}."


# --- real trainings, in regimes every math path agrees on ----------------------------------


def task(data: Any = DIGITS, model: Any = MLP, search: dict | None = None, **recipe) -> Task:
    recipe = {"device": "cpu", **recipe}
    return Task(
        {"data": data, "model": model, "recipe": recipe, "search": search or {}, "artifacts": False}
    )


def study_of(
    objective: Task, *enqueued: dict, n_trials: int | None = None, **options: Any
) -> tunelab.Study:
    study = tunelab.create_study(storage="memory", direction=objective.direction, seed=0, **options)
    for params in enqueued:
        study.enqueue_trial(params)
    study.optimize(objective, n_trials=n_trials or max(1, len(enqueued)))
    return study


def trained(objective: Task, *enqueued: dict) -> TrialRecord:
    """The record of one training of ``objective`` in a fresh in-memory study."""
    return study_of(objective, *enqueued).trials[0]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Train on one thread: as fast for models this small, and steady on shared cores, where
    threads that wait for each other spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def huge_lr() -> TrialRecord:
    # Plain SGD at lr 10 leaves the finite numbers within its first epoch on any machine.
    return trained(task(optimizer="sgd", lr=10.0, epochs=3))


def test_a_healthy_training_has_no_findings():
    # Adam at 1e-3: the losses fall steadily (2.13, 1.16, 0.67, 0.41, 0.28), far from any rule.
    record = trained(task(lr=1e-3, init="kaiming_normal", epochs=5))
    assert record.state is TrialState.COMPLETE and record.value >= 0.9
    assert diagnose_trial(record) == []


def test_a_deep_sigmoid_network_has_vanishing_gradients():
    # Each sigmoid shrinks the gradient at least 4-fold: after 20 the ratio is near 1e-16.
    model = {"name": "mlp", "depth": 20, "width": 32, "activation": "sigmoid"}
    record = trained(task(model=model, epochs=3))
    findings = diagnose_trial(record)
    # Its flat loss is not blamed on the learning rate, nor its saturated units on ReLUs.
    assert codes(findings) == {VANISHING_GRADIENTS}
    evidence = the(VANISHING_GRADIENTS, findings).evidence
    assert "In epoch 3 the gradient norm of blocks.0.linear" in evidence
    assert "that of head" in evidence


def test_zero_initialization_leaves_every_relu_dead():
    # Zero weights give zero pre-activations and zero gradients: no unit ever moves.
    findings = diagnose_trial(trained(task(init="zeros", epochs=3)))
    assert codes(findings) == {DYING_RELU}
    evidence = the(DYING_RELU, findings).evidence
    assert "blocks.0.act: 100% (epoch 1: 100%)" in evidence
    assert "blocks.1.act: 100% (epoch 1: 100%)" in evidence


def test_a_training_that_diverges_is_diagnosed_from_what_its_trainer_recorded(huge_lr):
    assert huge_lr.state is TrialState.FAIL
    findings = diagnose_trial(huge_lr)
    assert codes(findings) == {EXPLODING_GRADIENTS, LR_TOO_HIGH}
    for code in (EXPLODING_GRADIENTS, LR_TOO_HIGH):
        assert " in epoch 1, step " in the(code, findings).evidence
    assert "lr: 1 instead of 10" in the(LR_TOO_HIGH, findings).advice


def test_a_tiny_learning_rate_barely_moves_the_loss():
    # Each epoch lowers the validation loss by about 3e-4 (measured), a thousand times more
    # than a change of summation order moves it.
    findings = diagnose_trial(trained(task(lr=1e-6, epochs=5)))
    assert codes(findings) == {LR_TOO_LOW}
    assert "lr: 1e-05 instead of 1e-06" in the(LR_TOO_LOW, findings).advice


@pytest.mark.parametrize(
    "model",
    [
        {"name": "mlp", "depth": 3, "width": 64, "batch_norm": True},
        {"name": "cnn", "depth": 2, "channels": 8},
        {"name": "cnn", "depth": 3, "channels": 8, "batch_norm": False, "residual": True},
    ],
    ids=["mlp-batch-norm", "cnn", "cnn-residual"],
)
def test_healthy_builder_networks_sit_well_inside_the_thresholds(model):
    """The margins the thresholds' comments state: gradient ratios at least ten times the
    vanishing threshold, dead fractions well under the dying one. Measured: ratios 0.94, 0.33
    and 0.26, dead fractions 0, 0 and 0.06."""
    record = trained(task(data={"name": "digits_images"}, model=model, epochs=2))
    last = read_telemetry(record)[-1]
    norms = [n for n in last.grad_norm.values() if n > 0]
    assert norms[0] / norms[-1] >= 10 * doctor.VANISHING_RATIO
    assert max(stats.dead for stats in last.activations.values()) < doctor.DEAD_FRACTION / 2
    assert not {VANISHING_GRADIENTS, DYING_RELU} & codes(diagnose_trial(record))


def test_findings_are_immutable(huge_lr):
    finding = diagnose_trial(huge_lr)[0]
    with pytest.raises(AttributeError):
        finding.code = "other"  # type: ignore[misc]


# --- a study --------------------------------------------------------------------------------


def lr_at_its_edge(trial) -> float:
    """Best at lr = 10**-0.5, above the searched range; x is best inside its range."""
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    x = trial.suggest_float("x", 0.0, 1.0)
    return (math.log10(lr) + 0.5) ** 2 + 0.1 * (x - 0.5) ** 2


def test_best_trials_at_the_edge_of_a_range_say_widen_it():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0)
    study.optimize(lr_at_its_edge, n_trials=40)
    findings = diagnose_study(study)
    assert codes(findings) == {PARAM_AT_RANGE_EDGE, NO_TELEMETRY}
    finding = the(PARAM_AT_RANGE_EDGE, findings)
    assert finding.trial is None and finding.title.startswith("lr:")
    best = sorted(study.get_trials((TrialState.COMPLETE,)), key=lambda r: r.value)[:3]
    assert all(f"{r.params['lr']:.3g}" in finding.evidence for r in best)
    assert "[1e-05, 0.1]" in finding.evidence and "beyond 0.1" in finding.evidence
    assert "high: 1" in finding.advice


def edge_advice(objective) -> str:
    # TPE crowds the best end of a range, as a search does once it has found the edge.
    study = tunelab.create_study(storage="memory", sampler="tpe", seed=0)
    study.optimize(objective, n_trials=30)
    return the(PARAM_AT_RANGE_EDGE, diagnose_study(study)).advice


def test_edge_advice_keeps_zero_as_the_floor():
    advice = edge_advice(lambda trial: trial.suggest_float("weight_decay", 0.0, 0.1))
    assert advice.startswith("The best trials want weight_decay at 0 or just above: fix it at 0")
    assert "{low: 1.0e-6, high: 0.1, log: true})." in advice


def test_edge_advice_widens_an_integer_range_by_whole_numbers():
    advice = edge_advice(lambda trial: -trial.suggest_int("layers", 1, 8))
    assert "e.g. high: 12 (unless 8 is a hard limit of layers)" in advice


def test_a_study_whose_optimum_lies_inside_its_ranges_has_no_findings():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0)
    study.optimize(lambda t: (t.suggest_float("x", 0.0, 1.0) - 0.5) ** 2, n_trials=20)
    assert codes(diagnose_study(study)) == {NO_TELEMETRY}  # nothing wrong, and no telemetry


def test_many_trials_diverging_says_narrow_the_lr():
    objective = task(search={"lr": {"low": 1e-2, "high": 1e3, "log": True}}, optimizer="sgd",
                     epochs=1)
    study = study_of(objective, *({"lr": lr} for lr in (0.03, 0.1, 0.3, 100.0, 1000.0)))
    assert [r.state for r in study.trials[3:]] == [TrialState.FAIL] * 2
    finding = the(MANY_DIVERGED_TRIALS, diagnose_study(study))
    assert finding.evidence.startswith("2 of 5 finished trials (40%) diverged")
    assert "trials 3, 4." in finding.evidence
    assert "lr from 100 to 1e+03; completed trials used lr up to 0.3" in finding.evidence
    assert "set lr's high below 100" in finding.advice


def test_trials_count_as_diverged_by_their_record_and_as_failed_otherwise():
    def finished(number: int, **record: Any) -> TrialRecord:
        return stored([], number=number, params={"lr": 0.01 * (number + 1)}, **record)

    diverged = Divergence(epoch=1, step=3, loss=math.nan, lr=0.04)
    records = [
        finished(0),
        finished(1),
        finished(2, divergence=diverged),
        finished(3, state=TrialState.FAIL, fold_divergence=[None, diverged.to_json()]),
        # A message alike, raised by the user's own code: only the trainer's record counts.
        finished(4, state=TrialState.FAIL, fail_reason="FloatingPointError: training loss "
                 "became nan in epoch 1, step 1"),
    ]
    assert detect_diverged_trials(records).evidence == (
        "2 of 5 finished trials (40%) diverged (their training loss became nan or inf): "
        "trials 2, 3. They used lr from 0.03 to 0.04; completed trials used lr up to 0.02."
    )
    assert detect_failed_trials(records).evidence.startswith(
        "1 of 5 finished trials (20%) failed (trials 4)"
    )


def broken_sometimes(trial) -> float:
    if trial.suggest_categorical("model", ["fine", "broken"]) == "broken":
        raise ValueError("the broken model has no layers")
    return trial.suggest_float("x", 0.0, 1.0)


def test_many_failed_trials_name_the_most_common_reason():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0)
    study.optimize(broken_sometimes, n_trials=10)
    failed = [r for r in study.trials if r.state is TrialState.FAIL]
    assert len(failed) >= 2
    findings = diagnose_study(study)
    assert MANY_DIVERGED_TRIALS not in codes(findings)
    finding = the(MANY_FAILED_TRIALS, findings)
    assert f"{len(failed)} of 10 finished trials" in finding.evidence
    assert "ValueError: the broken model has no layers" in finding.evidence
    assert f"trial {failed[0].number}" in finding.advice


def test_a_pruner_that_stops_every_trial_is_reported():
    pruner = {"name": "threshold", "lower": 0.999}  # no digits model is that good in one epoch
    study = study_of(task(epochs=3), n_trials=3, pruner=pruner)
    assert all(r.state is TrialState.PRUNED for r in study.trials)
    finding = the(ALL_TRIALS_PRUNED, diagnose_study(study))
    assert "All 3 finished trials were pruned, after at most 1 step(s) each" in finding.evidence


def test_a_study_diagnosis_includes_its_top_trials_findings():
    objective = task(search={"lr": [1e-3, 1e-6]}, init="kaiming_normal", epochs=5)
    study = study_of(objective, {"lr": 1e-3}, {"lr": 1e-6})
    assert diagnose_study(study, top=1) == []  # the best trial is the healthy one
    findings = diagnose_study(study, top=2)
    assert codes(findings) == {LR_TOO_LOW} and the(LR_TOO_LOW, findings).trial == 1
    with pytest.raises(ValueError, match="top"):
        diagnose_study(study, top=0)


def test_a_multi_objective_study_reads_its_pareto_front():
    def both_prefer_a_high_lr(trial) -> tuple[float, float]:
        value = lr_at_its_edge(trial)
        return value, 2.0 * value

    study = tunelab.create_study(storage="memory", directions=["minimize", "minimize"],
                                 sampler="random", seed=0)
    study.optimize(both_prefer_a_high_lr, n_trials=20)
    finding = the(PARAM_AT_RANGE_EDGE, diagnose_study(study))
    assert finding.title.startswith("lr:")


# --- what the doctor could not see --------------------------------------------------------


def test_a_study_without_telemetry_says_its_training_was_not_checked():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0)
    study.optimize(lambda t: (t.suggest_float("x", 0.0, 1.0) - 0.5) ** 2, n_trials=6)
    findings = diagnose_study(study)
    finding = the(NO_TELEMETRY, findings)
    assert finding.trial is None and finding.severity == INFO
    assert finding.evidence.startswith(
        "6 of 6 completed or pruned trials (trials 0, 1, 2, 3, 4, 5) recorded no per-epoch "
        "telemetry: their training (losses, gradients, activations) could not be checked"
    )
    assert "tunelab.torch.watch(trial, model)" in finding.advice
    assert all(f.trial is None for f in findings)  # one study finding names the best trials
    assert study_verdict(findings, study.trials) == (
        "6 finished trials, whose states, values, parameters and pruning show no problem; "
        "their training was not checked (no telemetry for 6 of 6 completed or pruned trials)."
    )
    best = study.trials[:3]
    assert trials_verdict(findings, best) == "not checked (no telemetry) for 3 of 3 trials."
    assert trials_verdict(findings, best[:1]) == "not checked (no telemetry)."


def test_verdicts_count_the_trials_checked_and_those_that_could_not_be():
    healthy = curve([1.0, 0.5, 0.3])
    seen = [stored(healthy, number=n) for n in range(3)]
    unseen = stored([], number=3)
    assert study_verdict([], seen) == "3 finished trials checked, no problems found."
    assert trials_verdict([], seen) == "3 trials checked, no problems found."
    assert trials_verdict([], [*seen[:2], unseen]) == (
        "2 of 3 trials checked, no problems found; not checked (no telemetry): trial 3."
    )
    problem = diagnosed(curve([1.0, 1.5, 2.0]), number=3)
    assert trials_verdict(problem, [*seen[:2], unseen]) == (
        "2 of 3 trials checked, 1 finding; not checked (no telemetry): trial 3."
    )
    assert study_verdict([], []) == "no trial has finished yet, so there is nothing to check."


def test_a_trial_that_diverged_before_its_first_epoch_ended_was_watched():
    diverged = Divergence(epoch=1, step=2, loss=math.nan, lr=1.0)
    record = stored([], divergence=diverged)
    assert codes(diagnose_trial(record)) == {EXPLODING_GRADIENTS, LR_TOO_HIGH}
    assert trials_verdict(diagnose_trial(record), [record]) == "1 trial checked, 2 findings."


# --- pruning --------------------------------------------------------------------------------


def stops_at(trial) -> float:
    """Reports 0 until the step it suggests, then 2, which a threshold pruner of 1 stops."""
    stop = trial.suggest_int("stop", 1, 10)
    for step in range(10):
        trial.report(2.0 if step >= stop else 0.0, step)
        if trial.should_prune():
            raise tunelab.TrialPruned()
    return float(stop)


def pruned_study(stops: Sequence[int], **options: Any) -> tunelab.Study:
    study = tunelab.create_study(
        storage="memory", sampler="random", seed=0, pruner={"name": "threshold", "upper": 1.0},
        **options,
    )
    for stop in stops:
        study.enqueue_trial({"stop": stop})
    study.optimize(stops_at, n_trials=len(stops))
    return study


def test_most_trials_pruned_says_where_the_pruner_cut():
    study = pruned_study([1] * 6 + [3] * 3 + [9] + [10] * 2)
    finding = the(MOST_TRIALS_PRUNED, diagnose_study(study))
    assert finding.evidence == (
        "10 of 12 finished trials (83.3%) were pruned: 6 at step 1, 3 at step 3, 1 at step 9; "
        "2 completed."
    )
    assert "n_warmup_steps" in finding.advice and "min_resource" in finding.advice


@pytest.mark.parametrize(
    "stops",
    [[1] * 8 + [10] * 4, [1] * 12],  # 67% pruned; every trial pruned is all_trials_pruned
    ids=["two-thirds", "all"],
)
def test_most_trials_pruned_takes_more_than_four_fifths_but_not_all(stops):
    findings = diagnose_study(pruned_study(stops))
    assert MOST_TRIALS_PRUNED not in codes(findings)
    assert (ALL_TRIALS_PRUNED in codes(findings)) == (10 not in stops)


def reports_without_asking(trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(3):
        trial.report(x + step, step)
    return x


def test_a_pruner_never_asked_is_reported():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0, pruner="median")
    study.optimize(reports_without_asking, n_trials=4)
    finding = the(PRUNER_NEVER_CONSULTED, diagnose_study(study))
    assert finding.evidence.startswith(
        "The study's pruner is median, and 4 of 4 finished trials reported values at 2 or more "
        "steps (up to step 2), but none called trial.should_prune()"
    )
    assert "if trial.should_prune(): raise tunelab.TrialPruned()" in finding.advice


def test_the_doctor_learns_the_pruner_from_the_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'pruned.db'}"
    study = tunelab.create_study(name="s", storage=url, sampler="random", seed=0, pruner="asha")
    study.optimize(reports_without_asking, n_trials=4)
    looked_at = tunelab.load_study("s", url, pruner="none")  # as `tunelab doctor` loads it
    finding = the(PRUNER_NEVER_CONSULTED, diagnose_study(looked_at))
    assert finding.evidence.startswith("The study's pruner is asha,")


@pytest.mark.parametrize(
    ("objective", "pruner"),
    [(stops_at, "threshold"), (reports_without_asking, "none"),
     (lambda t: t.suggest_float("x", 0.0, 1.0), "median")],  # asked; no pruner; no reports
    ids=["asked", "no-pruner", "no-reports"],
)
def test_a_pruner_asked_or_not_needed_is_no_finding(objective, pruner):
    spec = {"name": "threshold", "upper": 1.0} if pruner == "threshold" else pruner
    study = tunelab.create_study(storage="memory", sampler="random", seed=0, pruner=spec)
    study.optimize(objective, n_trials=4)
    assert PRUNER_NEVER_CONSULTED not in codes(diagnose_study(study))


def asks_the_pruner(trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(3):
        trial.report(x + step, step)
        if trial.should_prune():
            raise tunelab.TrialPruned()
    return x


def test_asking_a_study_without_a_pruner_is_reported():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0, pruner="none")
    with pytest.warns(UserWarning, match="always False"):
        study.optimize(asks_the_pruner, n_trials=3)
    finding = the(PRUNING_WITHOUT_PRUNER, diagnose_study(study))
    assert finding.evidence == (
        "3 of 3 finished trials called trial.should_prune() (trials 0, 1, 2), but the study "
        "had no pruner (pruner='none'): every answer was False, and no trial was stopped early."
    )
    assert "pruner='median'" in finding.advice


@pytest.mark.parametrize("pruner", ["none", "median"])
def test_trials_pruned_on_request_are_not_the_pruners_doing(pruner):
    study = tunelab.create_study(storage="memory", sampler="random", seed=0, pruner=pruner)
    for _ in range(3):  # every trial pruned, each because the user asked
        trial = study.ask()
        trial.report(trial.suggest_float("x", 0.0, 1.0), step=0)
        request_prune(study, trial.number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pruner none: should_prune() warns it cannot prune
            assert trial.should_prune()
        study.tell(trial, state=TrialState.PRUNED)
    found = codes(diagnose_study(study))
    assert not found & {ALL_TRIALS_PRUNED, MOST_TRIALS_PRUNED, PRUNING_WITHOUT_PRUNER}


def test_asking_in_a_multi_objective_study_is_reported():
    def both(trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.should_prune()
        return x, 1.0 - x

    study = tunelab.create_study(storage="memory", directions=["minimize", "minimize"], seed=0)
    with pytest.warns(UserWarning, match="always False"):
        study.optimize(both, n_trials=2)
    finding = the(PRUNING_WITHOUT_PRUNER, diagnose_study(study))
    assert "the study has 2 objectives, and a pruner judges one reported value" in \
        finding.evidence


def test_asking_a_study_with_a_pruner_is_no_finding():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0, pruner="median")
    study.optimize(asks_the_pruner, n_trials=3)
    assert PRUNING_WITHOUT_PRUNER not in codes(diagnose_study(study))


# --- the metric and the validation set --------------------------------------------------------


def scored(values: Sequence[float], direction: str = "maximize",
           validation_size: int | None = None, **options: Any) -> tunelab.Study:
    """A study whose trials score ``values`` in turn, each noting ``validation_size``."""
    def objective(trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        if validation_size is not None:
            trial.set_system_attr(VALIDATION_SIZE_ATTR, validation_size)
        return values[trial.number]

    study = tunelab.create_study(storage="memory", direction=direction, sampler="random",
                                 seed=0, **options)
    study.optimize(objective, n_trials=len(values))
    return study


def test_many_trials_at_the_metrics_ceiling_make_the_best_arbitrary():
    study = scored([0.9, 1.0, 0.95, 1.0, 1.0, 0.8], metric_names=["accuracy"])
    finding = the(METRIC_SATURATED, diagnose_study(study))
    assert finding.severity == WARNING
    assert finding.evidence == (
        "3 of 6 completed trials reach accuracy = 1, the metric's ceiling (trials 1, 3, 4): it "
        "cannot rank them, so which one is best is arbitrary (trial 1, the first to get there)."
    )
    assert "finer metric (the validation loss instead of accuracy" in finding.advice


def test_many_trials_at_a_loss_of_zero_saturate_it_too():
    study = scored([0.0, 0.2, 0.0, 0.0], direction="minimize")
    assert "reach value = 0, the metric's floor" in the(
        METRIC_SATURATED, diagnose_study(study)).evidence


@pytest.mark.parametrize(
    "values",
    [[1.0, 1.0, 0.9, 0.8], [0.99, 0.99, 0.99, 0.98]],  # two at the bound; three tied below it
    ids=["two-tied", "not-the-bound"],
)
def test_a_metric_short_of_saturation_is_no_finding(values):
    assert METRIC_SATURATED not in codes(diagnose_study(scored(values)))


def test_a_small_validation_set_cannot_separate_the_best_trials():
    # Counts of 50 examples: 40, 39 and 38 right. SE at 0.8 is sqrt(0.8 * 0.2 / 50) = 0.0566.
    study = scored([0.8, 0.78, 0.76, 0.6], validation_size=50)
    finding = the(VALIDATION_TOO_SMALL, diagnose_study(study))
    assert finding.evidence == (
        "The best trial (0) has value = 0.8 on 50 validation examples, a standard error of "
        "0.0566 (about 2.83 examples); the next 2 best (trial 1: 0.78, trial 2: 0.76) lie within "
        "1 standard error of it: another validation set of the same size could rank them "
        "otherwise."
    )
    assert "to 0.0283" in finding.advice and "cv: 5" in finding.advice


def test_an_accuracy_by_name_needs_no_whole_counts():
    values = [0.8123, 0.8011, 0.7954, 0.5]
    assert VALIDATION_TOO_SMALL not in codes(diagnose_study(scored(values, validation_size=50)))
    study = scored(values, validation_size=50, metric_names=["val_accuracy"])
    assert VALIDATION_TOO_SMALL in codes(diagnose_study(study))


@pytest.mark.parametrize(
    ("values", "validation_size"),
    [
        ([0.8, 0.78, 0.76, 0.6], 5000),  # SE 0.00566: the gaps are real
        ([0.8, 0.78, 0.76, 0.6], None),  # the size is unknown
        ([0.8, 0.6, 0.5, 0.4], 50),  # the runners-up are more than a standard error behind
    ],
    ids=["large-set", "unknown-size", "clear-best"],
)
def test_a_validation_set_that_separates_or_is_unknown_is_no_finding(values, validation_size):
    study = scored(values, validation_size=validation_size)
    assert VALIDATION_TOO_SMALL not in codes(diagnose_study(study))


# --- rendering ------------------------------------------------------------------------------


def test_findings_render_as_a_rich_table(huge_lr):
    findings = diagnose_trial(huge_lr)
    table = findings_table(findings)
    assert table.row_count == len(findings)
    console = Console(record=True, width=200)
    console.print(table)
    rendered = console.export_text()
    assert EXPLODING_GRADIENTS in rendered and "grad_clip_norm" in rendered
    assert rendered.count(f"trial {huge_lr.number}") == len(findings)


def test_the_table_shows_brackets_in_evidence_as_they_are():
    study = tunelab.create_study(storage="memory", sampler="random", seed=0)
    study.optimize(lr_at_its_edge, n_trials=40)
    console = Console(record=True, width=300)
    console.print(findings_table(diagnose_study(study)))
    assert "of [1e-05, 0.1] (" in console.export_text()


def test_no_findings_render_as_a_clean_bill_of_health():
    console = Console(record=True, width=120)
    console.print(findings_table([]))
    assert "No problems found." in console.export_text()


def test_the_best_trials_diagnosed_are_the_feasible_ones_the_report_lists(monkeypatch):
    from tunelab import _display

    def constrained(trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraints([x - 0.5])  # the highest values break the constraint
        return x

    study = tunelab.create_study(storage="memory", direction="maximize", sampler="random", seed=0)
    study.optimize(constrained, n_trials=20)
    diagnosed: list[int] = []
    monkeypatch.setattr(
        doctor, "diagnose_trial", lambda record: diagnosed.append(record.number) or []
    )
    diagnose_study(study, top=3)
    assert diagnosed == [r.number for r in _display.ranked_trials(study)[:3]]
    assert all(r.values[0] <= 0.5 for r in study.trials if r.number in diagnosed)
