"""Weight initialisation schemes: the spread each promises, biases, reproducibility, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.torch.init import INIT_SCHEMES, initialize


def initialized(layer: nn.Module, scheme: str, scale: float = 1.0) -> nn.Module:
    torch.manual_seed(0)
    initialize(layer, scheme, scale=scale)
    return layer


def weight_std(layer: nn.Module) -> float:
    return layer.weight.std().item()


@pytest.mark.parametrize(
    ("scheme", "scale", "expected"),
    [
        ("kaiming_normal", 1.0, math.sqrt(2 / 400)),
        ("kaiming_uniform", 0.5, 0.5 * math.sqrt(2 / 400)),
        ("xavier_uniform", 1.0, math.sqrt(2 / (400 + 300))),
        ("xavier_normal", 2.0, 2.0 * math.sqrt(2 / (400 + 300))),
        ("normal", 1.0, 0.05),
        ("normal", 3.0, 0.15),
        ("uniform", 2.0, 0.1),
    ],
)
def test_weight_spread_matches_the_scheme(scheme, scale, expected):
    layer = initialized(nn.Linear(400, 300), scheme, scale)
    assert weight_std(layer) == pytest.approx(expected, rel=0.05)


def test_conv_fan_in_counts_the_kernel():
    layer = initialized(nn.Conv2d(16, 64, kernel_size=3), "kaiming_normal")
    assert weight_std(layer) == pytest.approx(math.sqrt(2 / (16 * 3 * 3)), rel=0.05)


def test_orthogonal_rows_are_orthonormal():
    weight = initialized(nn.Linear(64, 64), "orthogonal").weight
    assert torch.allclose(weight @ weight.T, torch.eye(64), atol=1e-5)


def test_zeros_zeroes_every_weight():
    model = initialized(nn.Sequential(nn.Linear(4, 3), nn.Conv1d(2, 2, 3)), "zeros")
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())


@pytest.mark.parametrize("scheme", [s for s in INIT_SCHEMES if s != "default"])
def test_biases_become_zero(scheme):
    model = initialized(nn.Sequential(nn.Linear(4, 3), nn.Conv2d(2, 2, 3)), scheme)
    assert all(torch.count_nonzero(m.bias) == 0 for m in model)


def test_default_leaves_the_model_unchanged():
    model = nn.Sequential(nn.Linear(4, 3), nn.Conv2d(2, 2, 3))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    initialize(model, "default")
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_norm_layers_and_prelu_are_left_alone():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.PReLU())
    initialize(model, "zeros")
    assert torch.equal(model[1].weight, torch.ones(4))
    assert torch.equal(model[2].weight, torch.full((1,), 0.25))


def test_seeding_makes_initialisation_reproducible():
    first = initialized(nn.Linear(10, 10), "kaiming_uniform").weight
    second = initialized(nn.Linear(10, 10), "kaiming_uniform").weight
    assert torch.equal(first, second)


def test_initialisation_keeps_weights_trainable():
    layer = initialized(nn.Linear(3, 2), "kaiming_normal", 2.0)
    assert layer.weight.requires_grad and layer.weight.grad_fn is None


@pytest.mark.parametrize(
    ("field", "arguments"),
    [
        ("init", {"scheme": "kaiming"}),
        ("init", {"scheme": None}),
        ("init_scale", {"scheme": "normal", "scale": 0.0}),
        ("init_scale", {"scheme": "normal", "scale": -1.0}),
        ("init_scale", {"scheme": "normal", "scale": float("inf")}),
        ("init_scale", {"scheme": "normal", "scale": float("nan")}),
        ("init_scale", {"scheme": "normal", "scale": True}),
        ("init_scale", {"scheme": "default", "scale": "1"}),
    ],
)
def test_bad_scheme_or_scale_names_the_field(field, arguments):
    with pytest.raises(ConfigError, match=field) as error:
        initialize(nn.Linear(2, 2), **arguments)
    assert error.value.field == field


def test_unknown_scheme_suggests_and_lists_the_schemes():
    with pytest.raises(ConfigError, match="did you mean 'xavier_normal'") as error:
        initialize(nn.Linear(2, 2), "xavier_norml")
    assert all(scheme in str(error.value) for scheme in INIT_SCHEMES)
