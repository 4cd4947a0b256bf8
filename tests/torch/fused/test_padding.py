"""Populations are planned so that no member is padded past a bounded factor of its weights."""

from __future__ import annotations

import pytest

from tunelab.torch.fused import padding as padding_module
from tunelab.torch.fused.padding import Padding, own_shapes, plan_populations, widest_layer
from tunelab.torch.models import build_cnn, build_mlp


def plan(models, max_padding: float | None = None) -> list[list[int]]:
    parameters = [name for name, _ in models[0].named_parameters()]
    return plan_populations([own_shapes(m) for m in models], parameters, max_padding)


def test_members_are_split_from_the_widest_down_within_the_padding_bound():
    # One hidden layer on 64 inputs and 10 outputs has 75 * width + 10 weights.
    widths = [32, 256, 16, 128, 60, 200]
    models = [build_mlp(64, 10, depth=1, width=w) for w in widths]
    # 256 (19,210 weights) takes members down to 4,803 weights: 200 and 128, not 60 (4,510),
    # which takes 32 and 16 (1,210 weights, padded to 4,510: 3.7 times).
    assert [[widths[i] for i in population] for population in plan(models)] == [
        [256, 200, 128], [60, 32, 16]
    ]
    assert plan(models, max_padding=1.0) == [[1], [5], [3], [4], [0], [2]]
    assert plan(models, max_padding=100.0) == [[1, 5, 3, 4, 0, 2]]


def test_the_bound_is_read_when_populations_are_planned(monkeypatch):
    models = [build_mlp(64, 10, depth=1, width=w) for w in (256, 16)]
    assert plan(models) == [[0], [1]]
    monkeypatch.setattr(padding_module, "MAX_PADDING", 16.0)  # as bench/fused.py sets it
    assert plan(models) == [[0, 1]]


def test_members_of_one_width_form_one_population():
    models = [build_mlp(64, 10, width=64) for _ in range(5)]
    assert plan(models, max_padding=1.0) == [[0, 1, 2, 3, 4]]


def test_padding_is_counted_on_the_widest_shape_of_every_layer():
    # Each has 256 in one layer: padded, both are 256 wide twice, far past 4 times either.
    models = [build_mlp(64, 10, depth=2, width=[16, 256]),
              build_mlp(64, 10, depth=2, width=[256, 16])]
    assert plan(models) == [[1], [0]]  # the costlier first
    padding = Padding([own_shapes(m) for m in models])
    assert padding.shapes["blocks.1.linear.weight"] == (256, 256)
    assert widest_layer(padding.shapes) == 256


@pytest.mark.parametrize(("position", "units", "own"), [(0, 8, 8), (1, 8, 4), (1, 128, 64)])
def test_a_layers_own_units_are_its_first(position, units, own):
    models = [build_cnn((1, 8, 8), 3, depth=1, channels=8), build_cnn((1, 8, 8), 3, depth=1,
                                                                      channels=4)]
    padding = Padding([own_shapes(m) for m in models])
    # 8 channels, or their 8 x 4 x 4 features once flattened: the member's come first.
    assert padding.own_units("blocks.0.conv.weight", position, units) == own
    assert padding.own_units(None, position, units) == units  # the inputs are never padded
