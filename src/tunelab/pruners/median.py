"""Median stopping (Golovin et al., "Google Vizier", KDD 2017): stop a trial whose best value
so far is worse than the median of completed trials at the same step."""

from __future__ import annotations

from tunelab.pruners.percentile import PercentilePruner


class MedianPruner(PercentilePruner):
    """The 50th-percentile rule; see :class:`PercentilePruner` for the options."""

    display_name = "median pruner"

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)
