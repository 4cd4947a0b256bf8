"""Telemetry for a hand-written PyTorch loop (tunelab.torch.watch): the records it stores,
the gradient sampling, what it refuses, and that the doctor, the figures and the report read
its records as they read the trainer's."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import tunelab
from tunelab._attrs import TELEMETRY_ATTR, VALIDATION_SIZE_ATTR
from tunelab.analysis.doctor import SATURATED_ACTIVATIONS, VANISHING_GRADIENTS, diagnose_trial
from tunelab.exceptions import ConfigError
from tunelab.telemetry import QUANTILE_LEVELS, read_divergence, read_telemetry
from tunelab.torch import watch
from tunelab.trial import TrialState

N_TRAIN, N_VAL, BATCH = 400, 169, 32


def breast_cancer() -> tuple[torch.Tensor, ...]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = torch.tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)
    labels = torch.tensor(y)
    return x[:N_TRAIN], labels[:N_TRAIN], x[N_TRAIN:], labels[N_TRAIN:]


def mlp(depth: int, activation: type[nn.Module], width: int = 32) -> nn.Sequential:
    layers: list[nn.Module] = []
    inputs = 30
    for _ in range(depth):
        layers += [nn.Linear(inputs, width), activation()]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, 2))


def hand_loop(trial: tunelab.Trial, depth: int = 2, activation: type[nn.Module] = nn.ReLU,
              epochs: int = 6, init_scale: float = 1.0) -> float:
    """What a user writes: SGD on mini-batches, a validation pass, report, prune."""
    lr = trial.suggest_float("lr", 0.01, 0.1, log=True)
    torch.manual_seed(0)
    x_train, y_train, x_val, y_val = breast_cancer()
    model = mlp(depth, activation)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(init_scale)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    accuracy = 0.0
    with watch(trial, model, validation_size=len(y_val)) as w:
        for epoch in range(1, epochs + 1):
            model.train()
            losses = []
            for start in range(0, N_TRAIN, BATCH):
                optimizer.zero_grad()
                batch = slice(start, start + BATCH)
                loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
            model.eval()
            with torch.no_grad():
                outputs = model(x_val)
                val_loss = nn.functional.cross_entropy(outputs, y_val)
                accuracy = (outputs.argmax(1) == y_val).float().mean().item()
            train_loss = torch.stack(losses).mean()
            w.epoch(train_loss=train_loss, val_loss=val_loss, val_metric=accuracy, lr=optimizer)
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise tunelab.TrialPruned()
    return accuracy


def sigmoid_loop(trial: tunelab.Trial) -> float:
    return hand_loop(trial, depth=20, activation=nn.Sigmoid, epochs=3)


def shallow_sigmoid_loop(trial: tunelab.Trial, init_scale: float = 1.0) -> float:
    return hand_loop(trial, depth=3, activation=nn.Sigmoid, epochs=3, init_scale=init_scale)


def saturated_sigmoid_loop(trial: tunelab.Trial) -> float:
    # Initial weights 100 times too large: most pre-activations far out on the flat parts.
    return shallow_sigmoid_loop(trial, init_scale=100.0)


def one_trial(objective=hand_loop) -> tunelab.trial.TrialRecord:
    study = tunelab.create_study(direction="maximize", sampler="random", seed=0)
    study.optimize(objective, n_trials=1)
    return study.trials[0]


# --- the records -------------------------------------------------------------------------------


def test_every_epoch_stores_what_the_trainer_stores() -> None:
    record = one_trial()
    history = read_telemetry(record)

    assert record.state == TrialState.COMPLETE
    assert [e.epoch for e in history] == [1, 2, 3, 4, 5, 6]
    assert [e.val_metric for e in history] == [record.intermediate_values[s] for s in range(1, 7)]
    assert all(e.lr == pytest.approx(record.params["lr"]) for e in history)
    assert all(e.epoch_time > 0 and e.peak_memory_mb > 0 for e in history)
    assert [e.finished_at for e in history] == sorted(e.finished_at for e in history)
    # Every layer with parameters, input first; the ReLU layers' outputs described.
    assert all(list(e.grad_norm) == ["0", "2", "4"] for e in history)
    assert all(norm > 0 for e in history for norm in e.grad_norm.values())
    assert all(list(e.activations) == ["1", "3"] for e in history)
    assert {s.kind for e in history for s in e.activations.values()} == {"ReLU"}
    assert record.system_attrs[VALIDATION_SIZE_ATTR] == N_VAL
    assert all(
        {kind: list(layers) for kind, layers in e.distributions.items()}
        == {"weights": ["0", "2", "4"], "gradients": ["0", "2", "4"], "activations": ["1", "3"]}
        for e in history
    )


def test_distributions_describe_the_weights_the_gradients_and_the_outputs() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid())
    levels = torch.tensor(QUANTILE_LEVELS)
    with watch(FakeTrial(), model) as w:
        model(torch.randn(5, 3)).sum().backward()  # one pass: sampled
        gradients = torch.cat([model[0].weight.grad.reshape(-1), model[0].bias.grad])
        model.eval()
        with torch.no_grad():
            outputs = model(torch.randn(7, 3))
        distributions = w.epoch(train_loss=1.0).distributions
    weights = torch.cat([model[0].weight.detach().reshape(-1), model[0].bias.detach()])

    for kind, values in (("weights", weights), ("gradients", gradients), ("activations", outputs)):
        layer = "1" if kind == "activations" else "0"
        expected = torch.quantile(values.reshape(-1), levels).tolist()
        assert distributions[kind] == {layer: pytest.approx(expected, rel=1e-3, abs=1e-6)}


def test_activations_describe_the_evaluation_pass() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    inputs = torch.randn(10, 3)
    trial = FakeTrial()
    with watch(trial, model) as w:
        model(torch.randn(5, 3)).sum().backward()  # a training step: not what is described
        model.eval()
        with torch.no_grad():
            expected = model(inputs)
        stats = w.epoch(train_loss=1.0).activations["1"]

    assert stats.mean == pytest.approx(expected.mean().item(), abs=1e-6)
    assert stats.std == pytest.approx(expected.std(unbiased=False).item(), abs=1e-6)


def test_a_loop_that_never_evaluates_is_described_by_its_first_training_batch() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    first, second = torch.randn(6, 3), torch.randn(6, 3)
    trial = FakeTrial()
    with watch(trial, model) as w:
        expected = model(first)
        expected.sum().backward()
        model(second).sum().backward()
        stats = w.epoch(train_loss=1.0).activations["1"]

    assert stats.mean == pytest.approx(expected.mean().item(), abs=1e-6)
    assert stats.kind == "Tanh"


def test_gradient_norms_are_the_root_mean_square_over_the_sampled_passes() -> None:
    # Pass k's gradient is k times the weight's gradient at scale 1, so a layer's norm over
    # the sampled passes is a known mean. Epoch 1 (10 passes, their count unknown) samples
    # passes 1, 2, 4, 8; from then on every ceil(10 / 4) = 3rd: 3, 6, 9.
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
    x = torch.tensor([[3.0, 4.0]])
    unit = torch.linalg.vector_norm(x).item()  # the gradient's norm at scale 1
    trial = FakeTrial()
    with watch(trial, model) as w:
        norms = []
        for _ in range(2):
            for scale in range(1, 11):
                model.zero_grad()
                (scale * model(x).sum()).backward()
            norms.append(w.epoch(train_loss=1.0).grad_norm["weight"])

    def rms(scales: list[int]) -> float:
        return math.sqrt(sum((s * unit) ** 2 for s in scales) / len(scales))

    assert norms[0] == pytest.approx(rms([1, 2, 4, 8]), rel=1e-6)
    assert norms[1] == pytest.approx(rms([3, 6, 9]), rel=1e-6)


def test_what_the_loop_does_not_measure_is_stored_as_null() -> None:
    trial = FakeTrial()
    with watch(trial, nn.Linear(2, 2)) as w:
        w.epoch(train_loss=0.5)
    stored = trial.attrs[TELEMETRY_ATTR][0]

    json.dumps(stored, allow_nan=False)  # strict JSON
    assert stored["val_loss"] is None and stored["val_metric"] is None and stored["lr"] is None
    assert stored["train_loss"] == 0.5


def test_a_non_finite_training_loss_is_recorded_as_the_divergence() -> None:
    def diverging(trial: tunelab.Trial) -> float:
        with watch(trial, nn.Linear(2, 2)) as w:
            w.epoch(train_loss=1.0, lr=0.5)
            w.epoch(train_loss=float("inf"), lr=0.5)
        return 0.0

    divergence = read_divergence(one_trial(diverging))

    assert divergence is not None
    assert (divergence.epoch, divergence.step, divergence.loss, divergence.lr) == (
        2, None, math.inf, 0.5
    )


def test_closing_takes_every_hook_off_the_model() -> None:
    model = mlp(2, nn.ReLU)
    with watch(FakeTrial(), model):
        assert model[1]._forward_hooks
    assert not any(m._forward_hooks for m in model.modules())
    assert not any(p._post_accumulate_grad_hooks for p in model.parameters())


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: watch(FakeTrial(), "model"), "model"),
        (lambda: watch(FakeTrial(), nn.Linear(1, 1), validation_size=0), "validation_size"),
        (lambda: watch(FakeTrial(), nn.Linear(1, 1)).epoch(train_loss=torch.ones(3)),
         "train_loss"),
        (lambda: watch(FakeTrial(), nn.Linear(1, 1)).epoch(train_loss=1.0, lr="fast"), "lr"),
    ],
)
def test_bad_input_names_the_field(call, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        call()
    assert error.value.field == field


def test_epochs_must_increase() -> None:
    w = watch(FakeTrial(), nn.Linear(1, 1))
    w.epoch(train_loss=1.0, epoch=3)
    with pytest.raises(ConfigError, match="epoch 2 comes after epoch 3"):
        w.epoch(train_loss=1.0, epoch=2)


class FakeTrial:
    """The part of a trial that a watch writes to."""

    number = 0

    def __init__(self) -> None:
        self.attrs: dict[str, object] = {}

    def set_system_attr(self, key: str, value: object) -> None:
        self.attrs[key] = value

    def report(self, value: float, step: int) -> None:
        raise AssertionError("a watch never reports: the loop does")

    def should_prune(self) -> bool:
        raise AssertionError("a watch never asks to prune: the loop does")


# --- what reads the records -------------------------------------------------------------------


@pytest.mark.slow
def test_the_doctor_finds_vanishing_gradients_in_a_deep_sigmoid_mlp_and_nothing_in_a_healthy_one(
) -> None:
    deep = diagnose_trial(one_trial(sigmoid_loop))
    healthy = diagnose_trial(one_trial(hand_loop))

    assert VANISHING_GRADIENTS in [f.code for f in deep]
    assert healthy == []


@pytest.mark.slow
def test_the_doctor_finds_saturated_sigmoids_from_the_distributions_of_their_outputs() -> None:
    saturated = diagnose_trial(one_trial(saturated_sigmoid_loop))
    healthy = diagnose_trial(one_trial(shallow_sigmoid_loop))

    assert SATURATED_ACTIVATIONS in [f.code for f in saturated]
    assert SATURATED_ACTIVATIONS not in [f.code for f in healthy]


@pytest.mark.slow
def test_the_report_draws_a_hand_written_loop_like_a_task(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    from tests.report.page import ReportPage
    from tunelab.report import write_report

    study = tunelab.create_study(direction="maximize", sampler="random", seed=0)
    study.optimize(hand_loop, n_trials=2)
    page = ReportPage.read(write_report(study, tmp_path / "report.html"))
    figures = [i for i in page.ids if i.startswith("figure-")]

    assert {"figure-training-curves", "figure-gradient-norms", "figure-activations",
            "figure-gradients-distributions", "figure-activations-distributions",
            "figure-weights-distributions"} <= set(figures)
    assert "not drawn" not in page.text("figures")


@pytest.mark.slow
def test_trials_in_worker_processes_keep_their_telemetry() -> None:
    study = tunelab.create_study(direction="maximize", sampler="random", seed=0)
    study.optimize(hand_loop, n_trials=4, n_jobs=2)

    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 4
    assert all(len(read_telemetry(r)) == 6 for r in study.trials)


# Models PyTorch cannot name or switch layer by layer (Keras's) -----------------------------------


def a_trial() -> tunelab.Trial:
    return tunelab.create_study().ask()


def small_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def train_step(model: nn.Module, inputs: torch.Tensor) -> None:
    model.train()
    model(inputs).square().mean().backward()


def test_parameters_named_by_the_caller_name_the_layers_of_the_gradient_norms() -> None:
    model = small_mlp()
    named = [("first.kernel", model[0].weight), ("first.bias", model[0].bias),
             ("second.kernel", model[2].weight)]  # the last bias left out
    with watch(a_trial(), model, parameters=named, activations=False) as watcher:
        train_step(model, torch.randn(16, 4))
        record = watcher.epoch(train_loss=1.0)
    assert list(record.grad_norm) == ["first", "second"]
    expected = torch.linalg.vector_norm(model[2].weight.grad).item()
    assert record.grad_norm["second"] == pytest.approx(expected)


def test_layers_given_with_their_kind_are_the_ones_described() -> None:
    model = small_mlp()
    layers = [("hidden", model[0], "linear")]
    with watch(a_trial(), model, gradients=False, layers=layers) as watcher:
        model.eval()
        model(torch.randn(16, 4))
        record = watcher.epoch(train_loss=1.0)
    assert list(record.activations) == ["hidden"]
    assert record.activations["hidden"].kind == "linear"


def test_the_models_mode_says_which_outputs_are_the_validation_pass() -> None:
    # As under Keras: the model is switched to evaluation, its layers keep the training flag.
    model = small_mlp()
    with watch(a_trial(), model, gradients=False) as watcher:
        train_step(model, torch.randn(16, 4))
        model.eval()
        model[1].train()
        model(torch.zeros(16, 4))
        record = watcher.epoch(train_loss=1.0)
    assert record.activations["1"].dead == 1.0  # one input: every unit constant


class ChannelsLast(nn.Module):
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs


@pytest.mark.parametrize(("feature_axis", "dead"), [(-1, 0.25), (1, 0.0)])
def test_the_feature_axis_says_where_the_channels_are(feature_axis: int, dead: float) -> None:
    model = nn.Sequential(ChannelsLast())
    outputs = torch.randn(8, 3, 3, 4)
    outputs[..., 0] = 0.0  # the first of 4 channels never fires
    layers = [("conv", model[0], "ReLU")]
    with watch(a_trial(), model, layers=layers, feature_axis=feature_axis) as watcher:
        model.eval()
        model(outputs)
        record = watcher.epoch(train_loss=1.0)
    assert record.activations["conv"].dead == pytest.approx(dead)
