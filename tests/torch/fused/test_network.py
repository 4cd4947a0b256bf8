"""The fused network computes, for each member, what the member's own model computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tunelab.torch.fused import FusedNetwork, FusionError, architecture_signature
from tunelab.torch.fused.network import Pass
from tunelab.torch.models import build_cnn, build_mlp

BUILDS = {  # each takes a width, so that members may differ in it
    "mlp": lambda w: build_mlp(12, 5, depth=3, width=[w, w // 2, w // 2], batch_norm=True,
                               residual=True, activation="prelu"),
    "mlp-plain": lambda w: build_mlp(12, 5, depth=2, width=w, activation="tanh"),
    # Non-zero at 0, through residual sums: padded units hold 0.5, 1.0, ... yet count nowhere.
    "mlp-sigmoid": lambda w: build_mlp(12, 5, depth=3, width=w, activation="sigmoid",
                                       residual=True, batch_norm=True),
    "cnn": lambda w: build_cnn((2, 8, 8), 5, depth=3, channels=w, batch_norm=True,
                               residual=True, head_width=w + 2, activation="elu"),
    "cnn-plain": lambda w: build_cnn((1, 6, 6), 3, depth=2, channels=w, batch_norm=False,
                                     kernel_size=5),
    "cnn-sigmoid": lambda w: build_cnn((2, 8, 8), 5, depth=2, channels=w, activation="sigmoid"),
}
INPUTS = {name: (12,) if name.startswith("mlp") else (2, 8, 8) for name in BUILDS}
INPUTS["cnn-plain"] = (1, 6, 6)
WIDTHS = {"one width": (6, 6, 6), "mixed widths": (6, 4, 10)}


def members(build, widths=(6, 6, 6)) -> list[nn.Module]:
    models = []
    for seed, width in enumerate(widths):
        torch.manual_seed(seed)
        models.append(build(width).double())
    return models


def run(network: FusedNetwork, tensors, x: torch.Tensor, size: int, training: bool):
    inputs = x.expand(size, *x.shape)
    return network(inputs, Pass(tensors, size, training, network.dropout))


@pytest.mark.parametrize("widths", WIDTHS.values(), ids=WIDTHS)
@pytest.mark.parametrize("name", BUILDS)
@pytest.mark.parametrize("training", [False, True])
def test_each_member_gets_its_own_models_outputs(name, training, widths):
    models = members(BUILDS[name], widths)
    network = FusedNetwork(models)
    tensors = network.stack(models)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(7, *INPUTS[name], dtype=torch.float64, generator=generator)
    outputs = run(network, tensors, x, len(models), training)
    for k, model in enumerate(models):
        model.train(training)
        torch.testing.assert_close(outputs[k], model(x), rtol=1e-10, atol=1e-12)
    if training:  # batch norm updated each member's running statistics as its own model did
        own = network.padding.member(tensors, 1)
        for name_, tensor in own.items():
            if "running" in name_:
                torch.testing.assert_close(tensor, models[1].state_dict()[name_])


@pytest.mark.parametrize("name", ["cnn", "mlp-sigmoid", "mlp-plain"])
def test_gradients_reach_each_member_as_in_its_own_model(name):
    models = members(BUILDS[name], (3, 5))
    network = FusedNetwork(models)
    tensors = network.stack(models)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(4, *INPUTS[name], dtype=torch.float64, generator=generator)
    # The backward pass makes each gradient in its parameter's own layout: torch copies one
    # made transposed into that layout, which cost as much as the product at every step.
    layouts = {}
    for parameter in network.parameter_names:
        tensors[parameter].register_hook(
            lambda gradient, parameter=parameter: layouts.update(
                {parameter: gradient.is_contiguous()}
            )
        )
    run(network, tensors, x, 2, True).square().sum().backward()
    assert layouts == dict.fromkeys(network.parameter_names, True)
    gradients = {name: tensors[name].grad for name in network.parameter_names}
    for k, model in enumerate(models):
        model.train()
        model(x).square().sum().backward()
        own = network.padding.member(gradients, k)
        for name, parameter in model.named_parameters():
            torch.testing.assert_close(own[name], parameter.grad)


def test_a_member_is_padded_with_zeros_and_comes_back_in_its_own_shapes():
    models = members(BUILDS["mlp"], (6, 4))
    network = FusedNetwork(models)
    tensors = network.stack(models)
    assert tensors["blocks.0.linear.weight"].shape == (2, 6, 12)
    assert tensors["blocks.1.norm.running_var"].shape == (2, 3)
    narrow = tensors["blocks.1.linear.weight"][1]  # (3, 6) holding the member's (2, 4)
    assert narrow[2:].abs().sum() == 0 and narrow[:, 4:].abs().sum() == 0
    # All but the shared PReLU slopes, the batch counts and the head's bias (5 outputs).
    assert set(network.state_names) - set(network.padding.padded) == {
        "blocks.0.act.weight", "blocks.1.act.weight", "blocks.2.act.weight", "head.bias",
        "blocks.0.norm.num_batches_tracked", "blocks.1.norm.num_batches_tracked",
        "blocks.2.norm.num_batches_tracked",
    }
    masks = network.padding.masks(network.parameter_names, tensors["head.bias"].detach())
    assert sorted(masks) == sorted(n for n in network.padding.padded
                                   if n in network.parameter_names)
    assert masks["blocks.1.linear.weight"][1].sum() == 2 * 4
    for k, model in enumerate(models):
        own = network.padding.member(tensors, k)
        assert {n: t.shape for n, t in own.items()} == {
            n: t.shape for n, t in model.state_dict().items()
        }
        for name, tensor in model.state_dict().items():
            torch.testing.assert_close(own[name], tensor)


@pytest.mark.parametrize("width", [64, 40])
def test_members_may_differ_in_dropout_which_has_a_rate_per_member(width):
    # Dropout draws its masks over the padded units, so a member with dropout draws other
    # masks than alone: only rate 0 in training, and evaluation, can be equal exactly.
    torch.manual_seed(0)
    models = [build_mlp(10, 2, depth=2, width=64, dropout=0.5),
              build_mlp(10, 2, depth=2, width=width)]
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
    models = members(BUILDS["cnn"], (4, 4))
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


def test_models_that_differ_in_widths_share_a_signature_and_fuse():
    assert architecture_signature(build_mlp(4, 2, width=8)) == architecture_signature(
        build_mlp(4, 2, width=[16, 3])
    )
    one, other = build_cnn((1, 8, 8), 2, channels=4), build_cnn((1, 8, 8), 2, channels=9)
    assert architecture_signature(one) == architecture_signature(other)
    assert FusedNetwork([one, other]).padding.shapes["blocks.1.conv.weight"] == (18, 9, 3, 3)


@pytest.mark.parametrize(
    ("small", "large", "refusal"),
    [
        (build_mlp(4, 2, depth=1), build_mlp(4, 2, depth=2),
         r"layers under 'blocks' differ \(\['0'\] vs \['0', '1'\]\)"),
        (build_cnn((1, 8, 8), 2, kernel_size=3), build_cnn((1, 8, 8), 2, kernel_size=5),
         r"member 1's model differs from member 0's at 'blocks.0.conv.weight' "
         r"\(\(None, None, 5, 5\) vs \(None, None, 3, 3\), None for a width\)"),
    ],
)
def test_models_of_different_architectures_do_not_fuse(small, large, refusal):
    assert architecture_signature(small) != architecture_signature(large)
    with pytest.raises(FusionError, match=refusal):
        FusedNetwork([small, large])


def test_a_shared_prelu_slope_does_not_fuse_with_one_per_channel():
    shared = nn.Sequential(nn.Linear(4, 3), nn.PReLU(), nn.Linear(3, 2))
    per_channel = nn.Sequential(nn.Linear(4, 3), nn.PReLU(3), nn.Linear(3, 2))
    assert architecture_signature(shared) != architecture_signature(per_channel)
