"""A tiny objective for trying tunelab in a second: the minimum of a bowl-shaped function.

The answer is known (x = 2, y = -1, a loss of 0 with the "fast" curve), so it is easy to see
whether a sampler is doing well. Run it with::

    tunelab run examples/quadratic.yaml
"""

from __future__ import annotations

import tunelab


def objective(trial: tunelab.Trial) -> float:
    """Loss of a point: a bowl centred on (2, -1) plus a penalty for the slower curve.

    Reporting after each of a few "epochs" lets the median pruner stop hopeless points early,
    as it would stop a bad training run.
    """
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", -10.0, 10.0)
    curve = trial.suggest_categorical("curve", ["fast", "slow"])
    loss = (x - 2.0) ** 2 + (y + 1.0) ** 2 + (1.0 if curve == "slow" else 0.0)
    for epoch in range(4):
        trial.report(loss * (4 - epoch), step=epoch)
        if trial.should_prune():
            raise tunelab.TrialPruned()
    return loss
