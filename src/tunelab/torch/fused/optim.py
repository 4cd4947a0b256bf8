"""The recipe's optimizer over stacked parameters, with each member's own hyperparameters.

Each member is updated by torch.optim's own functional algorithm (SGD with momentum and
Nesterov, Adam, AdamW, RMSprop, Adagrad, with their default epsilons) over its slices of the
stacked parameters and state, with its own learning rate, momentum, betas and weight decay:
the fused kernel where this torch build has one for the device and type, as the ordinary
trainer uses (called directly, with the step counts kept here and counted once a step: torch's
functional update adds to them one tensor at a time), else the single-tensor algorithm. A
member therefore moves exactly as it would alone. That is one call per member and step, over
slices that are contiguous. Element-wise arithmetic over whole stacked tensors, with the
hyperparameters broadcast per member, took 6.5 ms an Adam step for 10 members of a 2x232
digits MLP on one CPU thread, against 0.46 ms this way (0.41 against 0.17 ms for 12 members
of width 36).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.optim.adagrad import adagrad
from torch.optim.adam import adam
from torch.optim.rmsprop import rmsprop
from torch.optim.sgd import sgd

from tunelab.torch.optim import has_fused_kernel
from tunelab.torch.recipe import Recipe

ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99
RMSPROP_EPS = 1e-8
ADAGRAD_EPS = 1e-10
HYPERPARAMETERS = ("momentum", "beta1", "beta2", "weight_decay")
# The state each optimizer keeps per parameter, stacked like it (besides the step counts).
STATE_KEYS = {
    "sgd": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq"),
    "adamw": ("exp_avg", "exp_avg_sq"),
    "rmsprop": ("square_avg", "momentum_buffer"),
    "adagrad": ("sum",),
}

Tensors = list[torch.Tensor]
Rows = dict[str, Tensors]
"""One member's slices of each kind of state, one per parameter, in parameter order."""


class PopulationOptimizer:
    """One optimizer (``recipes[0].optimizer``, shared) for K members' stacked parameters.

    ``hyper[k]`` holds member k's momentum, betas and weight decay; ``state[name][key]`` the
    stacked state of parameter ``name``; ``step_counts`` (K, parameters) torch's step count of
    each member's slice of each parameter.
    """

    def __init__(self, recipes: Sequence[Recipe], device: torch.device) -> None:
        self.name = recipes[0].optimizer
        self.nesterov = recipes[0].nesterov
        self.device = device
        self.hyper = [{name: float(getattr(r, name)) for name in HYPERPARAMETERS}
                      for r in recipes]
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.step_counts = torch.zeros(0)
        self.fused = False
        self._rows: list[Rows] = []

    def keep(
        self, members: torch.Tensor, narrow: Callable[[str, torch.Tensor], torch.Tensor]
    ) -> None:
        """Keep only the state of ``members`` (indices into the population), in that order;
        ``narrow(name, state)`` cuts parameter ``name``'s state to the kept members' shape."""
        self.hyper = [self.hyper[k] for k in members.tolist()]
        self.state = {
            name: {key: narrow(name, value[members]) for key, value in state.items()}
            for name, state in self.state.items()
        }
        if self.state:
            self.step_counts = self.step_counts[members.to(self.step_counts.device)]
            self._rows = self._member_rows()

    @torch.no_grad()
    def step(self, parameters: Mapping[str, torch.Tensor], lr: Sequence[float]) -> None:
        """Update every parameter; ``lr[k]`` is member k's learning rate. All parameters have
        gradients, the same ones at every step."""
        if not self.state:
            self._start(parameters)
        values = [p.unbind(0) for p in parameters.values()]
        grads = [p.grad.unbind(0) for p in parameters.values() if p.grad is not None]
        assert len(grads) == len(values), "every stacked parameter needs its gradient"
        if self.fused:  # the kernels read the count; torch's functional updates add to it
            self.step_counts.add_(1)
        update = getattr(self, f"_{self.name}")
        for k, member_lr in enumerate(lr):
            update([v[k] for v in values], [g[k] for g in grads], self._rows[k],
                   self.hyper[k], float(member_lr))

    def _start(self, parameters: Mapping[str, torch.Tensor]) -> None:
        """Zero state for every parameter, as torch starts it."""
        first = next(iter(parameters.values()))
        self.fused = has_fused_kernel(self.name, first.device, first.dtype)
        self.state = {
            name: {key: torch.zeros_like(p.detach()) for key in STATE_KEYS[self.name]}
            for name, p in parameters.items()
        }
        # torch counts steps in float32, on the device for its fused kernels, else on the CPU.
        self.step_counts = torch.zeros(
            len(self.hyper), len(parameters), dtype=torch.float32,
            device=self.device if self.fused else "cpu",
        )
        self._rows = self._member_rows()

    def _member_rows(self) -> list[Rows]:
        unbound = {key: [state[key].unbind(0) for state in self.state.values()]
                   for key in STATE_KEYS[self.name]}
        counts = self.step_counts.unbind(0)
        return [
            {"step": list(counts[k].unbind(0)),
             **{key: [stacked[k] for stacked in per_parameter]
                for key, per_parameter in unbound.items()}}
            for k in range(len(self.hyper))
        ]

    def _sgd(self, params: Tensors, grads: Tensors, rows: Rows,
             hyper: dict[str, float], lr: float) -> None:
        momentum = hyper["momentum"]
        # A zero buffer moved once is the first gradient, exactly what torch starts it with.
        buffers = rows["momentum_buffer"] if momentum != 0 else []
        options: dict[str, Any] = dict(weight_decay=hyper["weight_decay"], momentum=momentum, lr=lr,
                                       dampening=0.0, nesterov=self.nesterov,
                                       maximize=False)
        if self.fused:
            torch._fused_sgd_(params, grads, buffers, is_first_step=False, **options)
        else:
            sgd(params, grads, list(buffers), foreach=False, **options)

    def _adam(self, params: Tensors, grads: Tensors, rows: Rows,
              hyper: dict[str, float], lr: float) -> None:
        state: tuple[Tensors, Tensors, Tensors, Tensors, Tensors, Tensors] = (
            params, grads, rows["exp_avg"], rows["exp_avg_sq"], [], rows["step"]
        )
        options: dict[str, Any] = dict(
            amsgrad=False, beta1=hyper["beta1"], beta2=hyper["beta2"], lr=lr,
            weight_decay=hyper["weight_decay"], eps=ADAM_EPS, maximize=False,
        )
        if self.fused:
            kernel = torch._fused_adamw_ if self.name == "adamw" else torch._fused_adam_
            kernel(*state, **options)
        else:
            adam(*state, foreach=False, decoupled_weight_decay=self.name == "adamw", **options)

    _adamw = _adam

    def _rmsprop(self, params: Tensors, grads: Tensors, rows: Rows,
                 hyper: dict[str, float], lr: float) -> None:
        momentum = hyper["momentum"]
        rmsprop(params, grads, rows["square_avg"], [],
                rows["momentum_buffer"] if momentum > 0 else [], rows["step"], foreach=False,
                lr=lr, alpha=RMSPROP_ALPHA, eps=RMSPROP_EPS, weight_decay=hyper["weight_decay"],
                momentum=momentum, centered=False)

    def _adagrad(self, params: Tensors, grads: Tensors, rows: Rows,
                 hyper: dict[str, float], lr: float) -> None:
        state: tuple[Tensors, Tensors, Tensors, Tensors] = (
            params, grads, rows["sum"], rows["step"]
        )
        options: dict[str, Any] = dict(lr=lr, weight_decay=hyper["weight_decay"], lr_decay=0.0,
                                       eps=ADAGRAD_EPS, maximize=False)
        if self.fused:
            torch._fused_adagrad_(*state, **options)
        else:
            adagrad(*state, foreach=False, **options)

