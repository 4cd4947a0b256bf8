"""The built-in quickstart: tune a small MLP on scikit-learn's digits, as a declarative task.

It is the same kind of task a study file declares (``examples/digits_mlp.yaml`` is its twin), with
a conditional parameter (momentum exists only for SGD) and per-epoch reports that let a pruner
stop poor trials early. One CPU thread per trial: the model is too small to gain from a second
one, and on a busy machine extra threads make every step wait for a free core.
"""

from __future__ import annotations

from typing import Any

QUICKSTART_STUDY_NAME = "quickstart-digits-mlp"

QUICKSTART_TASK: dict[str, Any] = {
    "data": {"name": "digits", "val_fraction": 0.2, "seed": 0},
    "model": {"name": "mlp", "depth": 1},
    "recipe": {"epochs": 20},
    "search": {
        "lr": {"low": 1e-4, "high": 3e-1, "log": True},
        "optimizer": ["sgd", "adam", "rmsprop"],
        "momentum": {"low": 0.0, "high": 0.95, "when": {"optimizer": "sgd"}},
        "model.width": {"low": 16, "high": 256, "log": True},
        "model.dropout": {"low": 0.0, "high": 0.5},
        "batch_size": [16, 32, 64, 128],
    },
    "threads": 1,
}
