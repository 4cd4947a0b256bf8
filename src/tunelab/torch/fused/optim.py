"""The recipe's optimizers over stacked parameters, with each member's own hyperparameters.

Each update follows ``torch.optim``'s single-tensor algorithm step for step (SGD with momentum
and Nesterov, Adam, AdamW, RMSprop, Adagrad, with their default epsilons), with learning rate,
momentum, betas and weight decay as per-member tensors broadcast over the stacked dimension,
so a member moves exactly as it would alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from tunelab.torch.recipe import Recipe

ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99
RMSPROP_EPS = 1e-8
ADAGRAD_EPS = 1e-10
HYPERPARAMETERS = ("momentum", "beta1", "beta2", "weight_decay")


class PopulationOptimizer:
    """One optimizer (``recipes[0].optimizer``, shared) for K members' stacked parameters."""

    def __init__(self, recipes: Sequence[Recipe], device: torch.device) -> None:
        self.name = recipes[0].optimizer
        self.nesterov = recipes[0].nesterov
        self.hyper = {
            name: torch.tensor(
                [float(getattr(r, name)) for r in recipes], dtype=torch.float64, device=device
            )
            for name in HYPERPARAMETERS
        }
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.steps = 0
        self._views: dict[tuple[int, torch.dtype], dict[str, torch.Tensor]] = {}
        self.decays = any(r.weight_decay > 0 for r in recipes)
        """Whether any member has weight decay (else its arithmetic is skipped)."""

    def keep(
        self, members: torch.Tensor, narrow: Callable[[str, torch.Tensor], torch.Tensor]
    ) -> None:
        """Keep only the state of ``members`` (indices into the population), in that order;
        ``narrow(name, state)`` cuts parameter ``name``'s state to the kept members' shape."""
        self.hyper = {name: values[members] for name, values in self.hyper.items()}
        self.state = {
            name: {key: narrow(name, value[members]) for key, value in state.items()}
            for name, state in self.state.items()
        }
        self._views = {}
        self.decays = bool((self.hyper["weight_decay"] > 0).any())

    @torch.no_grad()
    def step(self, parameters: Mapping[str, torch.Tensor], lr: torch.Tensor) -> None:
        """Update every parameter with a gradient; ``lr`` holds each member's learning rate."""
        self.steps += 1
        update = getattr(self, f"_{self.name}")
        lrs: dict[tuple[int, torch.dtype], torch.Tensor] = {}
        for name, parameter in parameters.items():
            if parameter.grad is None:
                continue
            shape = (parameter.dim(), parameter.dtype)
            if shape not in lrs:
                lrs[shape] = stacked_view(lr, parameter)
            state = self.state.setdefault(name, {})
            grad = parameter.grad
            if self.decays and self.name != "adamw":  # AdamW decays the weights, not the gradient
                grad = grad + self._view("weight_decay", parameter) * parameter
            update(parameter, grad, state, lrs[shape])

    def _view(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """A hyperparameter shaped for ``like``, kept until the population changes."""
        views = self._views.setdefault((like.dim(), like.dtype), {})
        if name not in views:
            views[name] = stacked_view(self.hyper[name], like)
        return views[name]

    def _sgd(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
             lr: torch.Tensor) -> None:
        momentum = self._view("momentum", p)
        if "momentum_buffer" not in state:  # torch starts the buffer at the first gradient
            state["momentum_buffer"] = grad.clone()
        else:
            state["momentum_buffer"].mul_(momentum).add_(grad)
        buffer = state["momentum_buffer"]
        p.sub_(lr * (grad + momentum * buffer if self.nesterov else buffer))

    def _adam(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
              lr: torch.Tensor) -> None:
        beta1, beta2 = self._view("beta1", p), self._view("beta2", p)
        first = state.setdefault("exp_avg", torch.zeros_like(p))
        second = state.setdefault("exp_avg_sq", torch.zeros_like(p))
        first.lerp_(grad, 1.0 - beta1)
        second.mul_(beta2).add_((1.0 - beta2) * grad * grad)
        step_size = lr / (1.0 - beta1**self.steps)
        denominator = (second.sqrt() / (1.0 - beta2**self.steps).sqrt()).add_(ADAM_EPS)
        p.sub_(step_size * first / denominator)

    def _adamw(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
               lr: torch.Tensor) -> None:
        if self.decays:
            p.mul_(1.0 - lr * self._view("weight_decay", p))
        self._adam(p, grad, state, lr)

    def _rmsprop(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
                 lr: torch.Tensor) -> None:
        square_avg = state.setdefault("square_avg", torch.zeros_like(p))
        square_avg.mul_(RMSPROP_ALPHA).addcmul_(grad, grad, value=1.0 - RMSPROP_ALPHA)
        scaled = grad / square_avg.sqrt().add_(RMSPROP_EPS)
        # Without momentum torch steps along the scaled gradient, which momentum 0 gives too.
        buffer = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buffer.mul_(self._view("momentum", p)).add_(scaled)
        p.sub_(lr * buffer)

    def _adagrad(self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
                 lr: torch.Tensor) -> None:
        total = state.setdefault("sum", torch.zeros_like(p))
        total.addcmul_(grad, grad)
        p.sub_(lr * grad / total.sqrt().add_(ADAGRAD_EPS))


def stacked_view(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-member values (K,) shaped to broadcast over a stacked tensor (K, ...)."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))
