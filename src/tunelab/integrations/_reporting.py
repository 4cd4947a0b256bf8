"""What the framework callbacks share: the monitored metric reported to the trial after each
epoch, and the pruner's answer kept until the framework has stopped training its own way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelab.exceptions import ConfigError, TrialPruned
from tunelab.torch.trainer import ReportingTrial


def keeps_telemetry(trial: object) -> bool:
    """Whether ``trial`` can store telemetry: a study's trial can; a ``FixedTrial`` or a stored
    trial run again (``objective(study.best_trial)``) cannot, and trains unwatched."""
    return callable(getattr(trial, "set_system_attr", None))


class EpochReporter:
    """Reports ``monitor`` to ``trial`` at step = epoch (counted from 1, as tunelab's trainer
    counts) and remembers whether the pruner said to stop; ``owner`` names the callback in
    messages."""

    def __init__(self, trial: ReportingTrial, monitor: str, owner: str) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(
                f"{owner}: monitor must be the name of a logged metric, such as 'val_loss', "
                f"not {monitor!r}.",
                field="monitor",
            )
        self.trial = trial
        self.monitor = monitor
        self.owner = owner
        self.pruned: str | None = None

    def report(self, epoch: int, metrics: Mapping[str, Any]) -> bool:
        """Report the monitored value among ``metrics`` (numbers or 0-d tensors by name);
        whether the pruner says to stop."""
        if self.monitor not in metrics:
            logged = ", ".join(repr(name) for name in sorted(metrics)) or "none"
            raise ConfigError(
                f"{self.owner}: monitor={self.monitor!r} was not logged in epoch {epoch} "
                f"(logged: {logged}); log it under that name or monitor one of those.",
                field="monitor",
            )
        value = float(metrics[self.monitor])
        self.trial.report(value, step=epoch)
        if not self.trial.should_prune():
            return False
        self.pruned = f"pruned after epoch {epoch} with {self.monitor}={value:.4g}"
        return True

    def raise_if_pruned(self) -> None:
        """Raise :class:`TrialPruned` if the pruner said to stop; call once training ended."""
        if self.pruned is not None:
            message, self.pruned = self.pruned, None
            raise TrialPruned(message)
