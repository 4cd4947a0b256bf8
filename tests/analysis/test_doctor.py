"""Acceptance tests of the training doctor.

Every trial finding is raised by a deliberately broken real training with tunelab's engine,
run as a study's objective (a :class:`~tunelab.torch.Task`) so that the telemetry, state and
failure message are stored exactly as in real use; a healthy training raises none. Each case
trains once per module, in a second or two.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import pytest
from rich.console import Console

import torch
import tunelab
from tunelab.analysis import doctor
from tunelab.analysis.doctor import (
    ALL_TRIALS_PRUNED,
    DYING_RELU,
    EXPLODING_GRADIENTS,
    LR_TOO_HIGH,
    LR_TOO_LOW,
    MANY_DIVERGED_TRIALS,
    MANY_FAILED_TRIALS,
    OVERFITTING,
    PARAM_AT_RANGE_EDGE,
    PLATEAU,
    UNDERFITTING,
    VANISHING_GRADIENTS,
    WARNING,
    Finding,
    diagnose_study,
    diagnose_trial,
    findings_table,
)
from tunelab.telemetry import read_telemetry
from tunelab.torch import Task
from tunelab.trial import TrialRecord, TrialState

DIGITS = {"name": "digits"}
MLP = {"name": "mlp", "depth": 2, "width": 64}


def task(data: Any = DIGITS, model: Any = MLP, search: dict | None = None, **recipe) -> Task:
    # On the CPU everywhere, so that every machine trains the same numbers as the thresholds
    # were checked against.
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


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def the(code: str, findings: list[Finding]) -> Finding:
    (finding,) = [f for f in findings if f.code == code]
    return finding


# --- trainings, once per module ---------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Train on one thread: as fast for models this small, and steady on shared cores, where
    threads that wait for each other spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def healthy() -> TrialRecord:
    return trained(task(lr=1e-3, init="kaiming_normal", epochs=5))


@pytest.fixture(scope="module")
def deep_sigmoid() -> TrialRecord:
    # The activation is fixed, not searched: the telemetry itself says the layers are sigmoids.
    model = {"name": "mlp", "depth": 20, "width": 32, "activation": "sigmoid"}
    return trained(task(model=model, epochs=3))


def test_older_telemetry_without_layer_kinds_is_judged_by_the_searched_activation(deep_sigmoid):
    epochs = [e.to_json() for e in read_telemetry(deep_sigmoid)]
    for epoch in epochs:
        for stats in epoch["activations"].values():
            del stats["kind"]
    without_kinds = dataclasses.replace(
        deep_sigmoid, system_attrs={**deep_sigmoid.system_attrs, "telemetry": epochs}
    )
    assert DYING_RELU in codes(diagnose_trial(without_kinds))  # saturation read as dead ReLUs
    searched = dataclasses.replace(without_kinds, params={"model.activation": "sigmoid"})
    assert DYING_RELU not in codes(diagnose_trial(searched))


@pytest.fixture(scope="module")
def huge_lr() -> TrialRecord:
    return trained(task(optimizer="sgd", lr=10.0, epochs=3))


@pytest.fixture(scope="module")
def unstable_momentum() -> TrialRecord:
    model = {"name": "mlp", "depth": 4, "width": 64}
    return trained(task(model=model, optimizer="sgd", lr=0.3, momentum=0.9, batch_size=128,
                        epochs=6))


@pytest.fixture(scope="module")
def high_lr_relu() -> TrialRecord:
    return trained(task(lr=0.1, epochs=5))


@pytest.fixture(scope="module")
def zero_init() -> TrialRecord:
    return trained(task(init="zeros", epochs=3))


@pytest.fixture(scope="module")
def tiny_data() -> TrialRecord:
    # 30 training samples (3 per class), a wide network, no regularization, many epochs.
    data = {"name": "digits", "train_per_class": 3}
    model = {"name": "mlp", "depth": 2, "width": 256}
    return trained(task(data=data, model=model, lr=3e-3, batch_size=32, epochs=30))


@pytest.fixture(scope="module")
def tiny_lr() -> TrialRecord:
    return trained(task(lr=1e-6, epochs=5))


@pytest.fixture(scope="module")
def width_one() -> TrialRecord:
    model = {"name": "mlp", "depth": 1, "width": 1}
    return trained(task(model=model, lr=3e-2, batch_size=128, epochs=30))


@pytest.fixture(scope="module")
def noisy_regression() -> TrialRecord:
    # Diabetes is noisy: a small model reaches its floor early and a constant rate stays there.
    model = {"name": "mlp", "depth": 1, "width": 8}
    return trained(task(data={"name": "diabetes"}, model=model, optimizer="sgd", lr=0.1,
                        batch_size=128, epochs=30))


# --- one trial ------------------------------------------------------------------------------


def test_a_healthy_training_has_no_findings(healthy):
    assert healthy.state is TrialState.COMPLETE and healthy.value >= 0.9
    assert diagnose_trial(healthy) == []


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
    vanishing threshold, dead fractions well under the dying one."""
    record = trained(task(data={"name": "digits_images"}, model=model, epochs=2))
    last = read_telemetry(record)[-1]
    norms = [n for n in last.grad_norm.values() if n > 0]
    assert norms[0] / norms[-1] >= 10 * doctor.VANISHING_RATIO
    assert max(stats.dead for stats in last.activations.values()) < doctor.DEAD_FRACTION / 2
    assert not {VANISHING_GRADIENTS, DYING_RELU} & codes(diagnose_trial(record))


def test_a_deep_sigmoid_network_has_vanishing_gradients(deep_sigmoid):
    findings = diagnose_trial(deep_sigmoid)
    # The flat loss it causes is not blamed on the learning rate, nor its constant sigmoid
    # outputs on dying ReLUs.
    assert codes(findings) == {VANISHING_GRADIENTS}
    finding = the(VANISHING_GRADIENTS, findings)
    assert finding.trial == deep_sigmoid.number and finding.severity == WARNING
    assert "In epoch 3 the gradient norm of blocks.0.linear" in finding.evidence
    assert "that of head" in finding.evidence
    assert "init: kaiming_normal" in finding.advice and "model.batch_norm: true" in finding.advice


def test_a_diverging_training_shows_exploding_gradients_and_a_too_high_lr(huge_lr):
    assert huge_lr.state is TrialState.FAIL
    findings = diagnose_trial(huge_lr)
    assert codes(findings) == {EXPLODING_GRADIENTS, LR_TOO_HIGH}
    for code in (EXPLODING_GRADIENTS, LR_TOO_HIGH):
        assert re.search(r"became (nan|-?inf) in epoch 1, step \d+", the(code, findings).evidence)
    assert "grad_clip_norm: 1.0" in the(EXPLODING_GRADIENTS, findings).advice
    assert "lr: 1 instead of 10" in the(LR_TOO_HIGH, findings).advice


def test_gradient_norms_that_grow_while_the_loss_rises_are_exploding(unstable_momentum):
    findings = diagnose_trial(unstable_momentum)
    assert {EXPLODING_GRADIENTS, LR_TOO_HIGH} <= codes(findings)
    epochs = read_telemetry(unstable_momentum)
    norms = {e.epoch: math.sqrt(sum(n * n for n in e.grad_norm.values())) for e in epochs}
    peak = max(norms, key=norms.get)
    evidence = the(EXPLODING_GRADIENTS, findings).evidence
    assert evidence.startswith("The total gradient norm grew from")
    assert "in epoch 1 to" in evidence and f"in epoch {peak} (" in evidence


def test_a_too_high_lr_kills_relu_units_and_makes_the_loss_jump(high_lr_relu):
    findings = diagnose_trial(high_lr_relu)
    assert {DYING_RELU, LR_TOO_HIGH} <= codes(findings)
    last = read_telemetry(high_lr_relu)[-1]
    dead_layers = [name for name, s in last.activations.items() if s.dead >= 0.5]
    assert dead_layers == ["blocks.1.act"]
    dying = the(DYING_RELU, findings).evidence
    assert "In epoch 5" in dying and "blocks.1.act: " in dying and "blocks.0.act" not in dying
    assert "model.activation: leaky_relu" in the(DYING_RELU, findings).advice
    assert "The training loss rose" in the(LR_TOO_HIGH, findings).evidence


def test_zero_initialization_leaves_every_relu_dead(zero_init):
    findings = diagnose_trial(zero_init)
    # Its zero gradients are dead units, not vanishing ones; its flat loss is not the lr's.
    assert codes(findings) == {DYING_RELU}
    evidence = the(DYING_RELU, findings).evidence
    assert "blocks.0.act: 100% (epoch 1: 100%)" in evidence
    assert "blocks.1.act: 100% (epoch 1: 100%)" in evidence


def test_a_wide_network_on_thirty_samples_overfits(tiny_data):
    findings = diagnose_trial(tiny_data)
    assert codes(findings) == {OVERFITTING}
    best = min(read_telemetry(tiny_data), key=lambda e: e.val_loss).epoch
    evidence = the(OVERFITTING, findings).evidence
    assert f"at epoch {best} to" in evidence and "at epoch 30" in evidence
    advice = the(OVERFITTING, findings).advice
    assert "weight_decay" in advice and "model.dropout" in advice
    assert f"stop near epoch {best}" in advice and "early_stopping_patience" in advice


def test_a_tiny_learning_rate_barely_moves_the_loss(tiny_lr):
    findings = diagnose_trial(tiny_lr)
    assert codes(findings) == {LR_TOO_LOW}
    evidence = the(LR_TOO_LOW, findings).evidence
    assert "(epoch 1)" in evidence and "(epoch 5)" in evidence and "lr=1e-06" in evidence
    assert "lr: 1e-05 instead of 1e-06" in the(LR_TOO_LOW, findings).advice


def test_a_one_unit_network_underfits(width_one):
    findings = diagnose_trial(width_one)
    assert codes(findings) == {UNDERFITTING}
    evidence = the(UNDERFITTING, findings).evidence
    assert "(epoch 1)" in evidence and "(epoch 30)" in evidence and "last 8 epochs" in evidence
    assert "model.width" in the(UNDERFITTING, findings).advice


def test_a_constant_rate_that_stalls_long_before_the_end_is_a_plateau(noisy_regression):
    findings = diagnose_trial(noisy_regression)
    assert codes(findings) == {PLATEAU}
    finding = the(PLATEAU, findings)
    assert finding.severity != WARNING
    assert "From epoch 23 to 30 the learning rate stayed at 0.1" in finding.evidence
    assert "schedule: cosine" in finding.advice


def test_a_trial_without_telemetry_gets_no_telemetry_findings():
    study = tunelab.create_study(storage="memory", seed=0)
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=1)
    assert diagnose_trial(study.trials[0]) == []


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
    assert codes(findings) == {PARAM_AT_RANGE_EDGE}
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
    (finding,) = diagnose_study(study)
    return finding.advice


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
    assert diagnose_study(study) == []


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
