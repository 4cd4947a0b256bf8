"""Checkpoints of a training run, so that a stopped trial can be continued instead of retrained.

A trial leaves a checkpoint when something could continue from it (the epoch a pruner pauses
it at, with ``promote_paused`` or population-based training; with heartbeat retries, every
epoch but its last, for a retry after its worker died) in
``<checkpoint_dir>/trial-<number>.pt``: the weights, the optimizer's state, the random streams
(batch order, dropout), the best weights so far, the plateau reducer and the epoch history. A
trial whose ``trial.resume`` names it loads that file and trains on from the next epoch; with
the same recipe the continued run gives the numbers the uninterrupted one would.

With a changed recipe (population-based training perturbs the learning rate, say) the
optimizer keeps its state (moments, momentum buffers) but takes its hyperparameters from the
new recipe; when the optimizer itself changed, its state is dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tunelab.exceptions import ConfigError


@dataclass
class Checkpoint:
    """What a training run needs to go on after ``epoch``."""

    epoch: int
    optimizer_name: str
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    generator: torch.Tensor
    global_rng: torch.Tensor  # dropout draws from torch's global stream
    best_value: float
    best_epoch: int
    best_state: dict[str, torch.Tensor] | None
    plateau: dict[str, float]
    history: list[dict[str, Any]]
    scaler: dict[str, Any] | None = None


def checkpoint_file(checkpoint_dir: str | Path, trial_number: int) -> Path:
    """Where trial ``trial_number`` of a study leaves its checkpoint."""
    return Path(checkpoint_dir) / f"trial-{trial_number}.pt"


def save(checkpoint: Checkpoint, path: Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(vars(checkpoint), partial)
    partial.replace(path)


def load(path: Path, trial_number: int, source_number: int, step: int) -> Checkpoint:
    """The checkpoint trial ``trial_number`` continues: ``source_number``'s, taken at ``step``."""
    if not path.is_file():
        raise ConfigError(
            f"trial {trial_number} continues trial {source_number} from its checkpoint, but "
            f"{path} does not exist; pruners that resume paused trials need the trainer to save "
            "checkpoints (Trainer(..., checkpoint_dir=...), which a study file's task does).",
            field="checkpoint_dir",
        )
    checkpoint = Checkpoint(**torch.load(path, map_location="cpu", weights_only=True))
    assert checkpoint.epoch == step, f"{path} holds epoch {checkpoint.epoch}, not {step}"
    return checkpoint


def restore_optimizer(
    optimizer: torch.optim.Optimizer, name: str, checkpoint: Checkpoint
) -> None:
    """Give ``optimizer`` (built from the current recipe) the saved per-parameter state."""
    if name != checkpoint.optimizer_name:
        return  # another optimizer's moments mean nothing to this one
    current = optimizer.state_dict()
    current["state"] = checkpoint.optimizer["state"]
    optimizer.load_state_dict(current)
