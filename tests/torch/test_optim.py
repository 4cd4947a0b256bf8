"""The optimizer a recipe names: its fused kernel where torch has one for the device."""

from __future__ import annotations

import pytest
import torch

from tunelab.torch.models import build_mlp
from tunelab.torch.optim import build_optimizer, has_fused_kernel
from tunelab.torch.recipe import Recipe


@pytest.mark.parametrize(
    ("optimizer", "fused"),
    [("adam", True), ("adamw", True), ("sgd", True), ("adagrad", True), ("rmsprop", None)],
)
def test_fused_kernel_where_torch_has_one_on_the_cpu(optimizer: str, fused: bool | None) -> None:
    model = build_mlp(4, 3, depth=1, width=8)
    built = build_optimizer(model, Recipe(optimizer=optimizer, lr=0.01))
    assert built.defaults.get("fused") is fused


def test_fused_and_per_tensor_updates_agree() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    weights = []
    for fused in (True, False):
        torch.manual_seed(1)
        model = build_mlp(4, 3, depth=2, width=8).double()
        recipe = Recipe(optimizer="adam", lr=0.01, weight_decay=1e-3)
        optimizer = build_optimizer(model, recipe)
        if not fused:
            optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
        for _ in range(20):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-9, atol=1e-9)


def test_a_device_without_the_kernel_is_found_at_a_probe_step() -> None:
    # torch builds a fused optimizer for any device and refuses only at its first step.
    assert has_fused_kernel("adam", torch.device("cpu"), torch.float32)
    assert not has_fused_kernel("adam", torch.device("meta"), torch.float32)
    model = build_mlp(4, 3, depth=1, width=8).to("meta")
    built = build_optimizer(model, Recipe(optimizer="adam", lr=0.01))
    assert built.defaults.get("fused") is None
