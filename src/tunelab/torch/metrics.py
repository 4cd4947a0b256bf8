"""Metrics computed from a model's raw outputs, on tensors, without leaving the device.

Classification outputs are logits: ``(N, K)`` for K classes, or ``(N, 1)`` for binary
cross-entropy where a positive logit means class 1. Regression outputs are ``(N, T)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CLASSIFICATION_METRICS = ("accuracy", "f1")
REGRESSION_METRICS = ("mse", "mae", "r2")
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "r2": True, "mse": False, "mae": False,
                    "loss": False}


def default_metric(task: str) -> str:
    return "accuracy" if task == "classification" else "mse"


def metric_names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def predicted_classes(outputs: torch.Tensor) -> torch.Tensor:
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0).long()
    return outputs.argmax(dim=1)


def compute_metrics(
    task: str,
    outputs: torch.Tensor,
    targets: torch.Tensor,
    n_classes: int | None = None,
    names: tuple[str, ...] | None = None,
) -> dict[str, float]:
    """Metrics of ``task`` (all of them, or those in ``names``) as Python floats."""
    names = metric_names(task) if names is None else names
    if task == "classification":
        assert n_classes is not None
        predicted = predicted_classes(outputs)
        classification: dict[str, Callable[[], float]] = {
            "accuracy": lambda: (predicted == targets).float().mean().item(),
            "f1": lambda: macro_f1(predicted, targets, n_classes),
        }
        return {name: classification[name]() for name in names if name in classification}
    errors = outputs.float() - targets
    regression: dict[str, Callable[[], float]] = {
        "mse": lambda: errors.pow(2).mean().item(),
        "mae": lambda: errors.abs().mean().item(),
        "r2": lambda: _r2(errors, targets),
    }
    return {name: regression[name]() for name in names if name in regression}


def _r2(errors: torch.Tensor, targets: torch.Tensor) -> float:
    total_variance = ((targets - targets.mean(dim=0)) ** 2).sum()
    return (1.0 - errors.pow(2).sum() / total_variance.clamp_min(1e-12)).item()


def macro_f1(predicted: torch.Tensor, targets: torch.Tensor, n_classes: int) -> float:
    """F1 averaged over the classes present in ``targets`` or ``predicted``."""
    true_positive = torch.bincount(targets[predicted == targets], minlength=n_classes)
    predicted_count = torch.bincount(predicted, minlength=n_classes)
    actual_count = torch.bincount(targets, minlength=n_classes)
    denominator = predicted_count + actual_count
    present = denominator > 0
    f1 = 2.0 * true_positive[present].double() / denominator[present].double()
    return f1.mean().item()
