"""The fused network computes, for each member, what the member's own model computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tunelab.torch.fused import FusedNetwork, FusionError, architecture_signature
from tunelab.torch.fused.network import Pass
from tunelab.torch.models import build_cnn, build_mlp

BUILDS = {
    "mlp": lambda: build_mlp(12, 5, depth=3, width=8, width_rule="halving", batch_norm=True,
                             residual=True, activation="prelu"),
    "mlp-plain": lambda: build_mlp(12, 5, depth=2, width=6, activation="tanh"),
    "cnn": lambda: build_cnn((2, 8, 8), 5, depth=3, channels=4, batch_norm=True, residual=True,
                             head_width=6, activation="elu"),
    "cnn-plain": lambda: build_cnn((1, 6, 6), 3, depth=2, channels=3, batch_norm=False,
                                   kernel_size=5),
}
INPUTS = {"mlp": (12,), "mlp-plain": (12,), "cnn": (2, 8, 8), "cnn-plain": (1, 6, 6)}


def members(build, count: int = 3) -> list[nn.Module]:
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        models.append(build().double())
    return models


def run(network: FusedNetwork, tensors, x: torch.Tensor, size: int, training: bool):
    inputs = x.expand(size, *x.shape)
    return network(inputs, Pass(tensors, size, training, network.dropout))


@pytest.mark.parametrize("name", BUILDS)
@pytest.mark.parametrize("training", [False, True])
def test_each_member_gets_its_own_models_outputs(name, training):
    models = members(BUILDS[name])
    network = FusedNetwork(models)
    tensors = network.stack(models)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(7, *INPUTS[name], dtype=torch.float64, generator=generator)
    outputs = run(network, tensors, x, len(models), training)
    for k, model in enumerate(models):
        model.train(training)
        torch.testing.assert_close(outputs[k], model(x), rtol=1e-10, atol=1e-12)
    if training:  # batch norm updated each member's running statistics as its own model did
        for name_, tensor in tensors.items():
            if "running" in name_:
                torch.testing.assert_close(tensor[1], models[1].state_dict()[name_])


def test_gradients_reach_each_member_as_in_its_own_model():
    models = members(BUILDS["cnn"], count=2)
    network = FusedNetwork(models)
    tensors = network.stack(models)
    x = torch.randn(4, 2, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    run(network, tensors, x, 2, True).square().sum().backward()
    for k, model in enumerate(models):
        model.train()
        model(x).square().sum().backward()
        for name, parameter in model.named_parameters():
            torch.testing.assert_close(tensors[name].grad[k], parameter.grad)


def test_members_may_differ_in_dropout_which_has_a_rate_per_member():
    torch.manual_seed(0)
    models = [build_mlp(10, 2, depth=2, width=64, dropout=0.5), build_mlp(10, 2, depth=2, width=64)]
    assert architecture_signature(models[0]) == architecture_signature(models[1])
    network = FusedNetwork(models)
    assert {name: rates.tolist() for name, rates in network.dropout.items()} == {
        "blocks.0.dropout": [0.5, 0.0],
        "blocks.1.dropout": [0.5, 0.0],
    }
    tensors = network.stack(models)
    x = torch.randn(200, 10)
    training = run(network, tensors, x, 2, True)
    models[1].train()
    torch.testing.assert_close(training[1], models[1](x))  # rate 0: nothing dropped
    models[0].eval()
    torch.testing.assert_close(run(network, tensors, x, 2, False)[0], models[0](x))


def test_dropout_zeroes_about_its_rate_of_units_per_member():
    torch.manual_seed(0)
    models = [
        build_mlp(10, 2, depth=1, width=400, dropout=0.5), build_mlp(10, 2, depth=1, width=400)
    ]
    network = FusedNetwork(models)
    dropout = next(op for op in network.operations if type(op).__name__ == "_Dropout")
    x = torch.ones(2, 50, 400)
    kept = dropout(x, Pass(network.stack(models), 2, True, network.dropout))
    assert (kept[0] == 0).float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert kept[0][kept[0] != 0].unique().tolist() == [2.0]  # survivors scaled by 1 / (1 - p)
    assert torch.equal(kept[1], x[1])


def test_the_telemetry_layers_are_recorded_member_major():
    models = members(BUILDS["cnn"], count=2)
    network = FusedNetwork(models)
    record: dict[str, torch.Tensor] = {}
    x = torch.randn(5, 2, 8, 8, dtype=torch.float64)
    network(x.expand(2, *x.shape), Pass(network.stack(models), 2, False, network.dropout, record))
    assert sorted(record) == ["blocks.0.act", "blocks.1.act", "blocks.2.act", "neck.act"]
    assert record["blocks.0.act"].shape == (2, 5, 4, 8, 8)  # before its block pools
    assert record["neck.act"].shape == (2, 5, 6)


class WithNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_a_layer_that_does_not_fuse_is_named():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.ReLU())
    refusal = r"layer '1' \(LayerNorm\) cannot be fused.*Linear, Conv2d"
    with pytest.raises(FusionError, match=refusal):
        FusedNetwork([model, model])


def test_a_container_whose_forward_is_unknown_does_not_fuse():
    with pytest.raises(FusionError, match=r"'model' \(WithNorm\)"):
        FusedNetwork([WithNorm(), WithNorm()])


def test_models_of_different_architectures_do_not_fuse():
    small, large = build_mlp(4, 2, width=8), build_mlp(4, 2, width=16)
    assert architecture_signature(small) != architecture_signature(large)
    with pytest.raises(FusionError, match="blocks.0.linear"):
        FusedNetwork([small, large])
