"""The population optimizer moves each member exactly as torch.optim moves it alone."""

from __future__ import annotations

import pytest
import torch

from tunelab.torch.fused import optim
from tunelab.torch.fused.optim import PopulationOptimizer
from tunelab.torch.optim import build_optimizer
from tunelab.torch.recipe import Recipe

CASES = {
    "sgd": [dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.0)],
    "sgd-plain": [dict(lr=0.1), dict(lr=0.3, weight_decay=0.1)],
    "adam": [dict(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.01),
             dict(lr=0.001, beta1=0.9, beta2=0.999)],
    "adamw": [dict(lr=0.01, weight_decay=0.1), dict(lr=0.003, beta1=0.5, weight_decay=0.0)],
    "rmsprop": [dict(lr=0.01, momentum=0.9), dict(lr=0.001, weight_decay=0.01)],
    "adagrad": [dict(lr=0.1), dict(lr=0.01, weight_decay=0.1)],
}


@pytest.mark.parametrize("kernels", ["fused", "functional"])
@pytest.mark.parametrize("case", CASES)
def test_each_member_follows_torch_optim_with_its_own_hyperparameters(case, kernels, monkeypatch):
    if kernels == "functional":  # as on a device without torch's fused kernels
        monkeypatch.setattr(optim, "has_fused_kernel", lambda *_: False)
    optimizer = case.removesuffix("-plain")
    recipes = [Recipe(optimizer=optimizer, **options) for options in CASES[case]]
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(len(recipes), 4, 3, generator=generator, dtype=torch.float64)
    gradients = [
        torch.randn(start.shape, generator=generator, dtype=torch.float64) for _ in range(5)
    ]

    stacked = start.clone().requires_grad_()
    population = PopulationOptimizer(recipes, torch.device("cpu"))
    lr = torch.tensor([r.lr for r in recipes], dtype=torch.float64)
    for gradient in gradients:
        stacked.grad = gradient.clone()
        population.step({"weight": stacked}, lr.tolist())
    assert population.fused is (kernels == "fused" and optimizer != "rmsprop")

    for k, recipe in enumerate(recipes):
        alone = torch.nn.Linear(3, 4, bias=False).double()
        alone.weight.data.copy_(start[k])
        optimizer_alone = build_optimizer(alone, recipe)
        for gradient in gradients:
            alone.weight.grad = gradient[k].clone()
            optimizer_alone.step()
        torch.testing.assert_close(
            stacked[k].detach(), alone.weight.detach(), rtol=1e-12, atol=1e-12
        )


def test_keep_drops_the_state_of_members_that_left():
    recipes = [Recipe(optimizer="adam", lr=lr, beta1=beta1)
               for lr, beta1 in ((0.1, 0.9), (0.01, 0.8), (0.001, 0.7))]
    population = PopulationOptimizer(recipes, torch.device("cpu"))
    weight = torch.zeros(3, 2, requires_grad=True)
    weight.grad = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    population.step({"w": weight}, [0.1, 0.01, 0.001])
    population.keep(torch.tensor([2, 0]), lambda name, state: state)
    assert [h["beta1"] for h in population.hyper] == [0.7, 0.9]
    assert population.state["w"]["exp_avg"][:, 0].tolist() == pytest.approx([0.9, 0.1])
    assert population.step_counts.tolist() == [[1.0], [1.0]]

    kept = weight.detach()[[2, 0]].clone().requires_grad_()
    kept.grad = torch.ones_like(kept)
    population.step({"w": kept}, [0.001, 0.1])
    assert population.step_counts.tolist() == [[2.0], [2.0]]
    assert population.state["w"]["exp_avg"][:, 0].tolist() == pytest.approx(
        [0.7 * 0.9 + 0.3, 0.9 * 0.1 + 0.1]
    )


def test_members_without_momentum_keep_no_buffer_moving():
    recipes = [Recipe(optimizer="sgd", lr=0.1, momentum=0.9), Recipe(optimizer="sgd", lr=0.1)]
    population = PopulationOptimizer(recipes, torch.device("cpu"))
    weight = torch.zeros(2, 3, requires_grad=True)
    for _ in range(2):
        weight.grad = torch.ones(2, 3)
        population.step({"w": weight}, [0.1, 0.1])
    # With momentum 0.9 the second step moves 1.9 times the gradient; without, once.
    assert weight[:, 0].tolist() == pytest.approx([-0.1 - 0.19, -0.2])
    assert population.state["w"]["momentum_buffer"][:, 0].tolist() == pytest.approx([1.9, 0.0])
