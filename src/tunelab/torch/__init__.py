"""The PyTorch training engine: recipes, model builders, data, the trainer and declarative tasks.

Everything here needs the ``torch`` extra; importing the package without PyTorch fails with
an error that says which extra to install rather than a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from tunelab.exceptions import MissingExtraError

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise MissingExtraError("torch", "torch", "tunelab.torch") from exc

from tunelab.telemetry import EpochTelemetry, artifact_dir, read_telemetry  # noqa: E402
from tunelab.torch.data import DataSplit, load_data, normalize  # noqa: E402
from tunelab.torch.models import build_cnn, build_mlp, build_model  # noqa: E402
from tunelab.torch.recipe import Recipe  # noqa: E402
from tunelab.torch.task import Task  # noqa: E402
from tunelab.torch.trainer import FitResult, Trainer  # noqa: E402
from tunelab.torch.watching import Watch, watch  # noqa: E402

__all__ = [
    "DataSplit",
    "EpochTelemetry",
    "FitResult",
    "Recipe",
    "Task",
    "Trainer",
    "Watch",
    "artifact_dir",
    "build_cnn",
    "build_mlp",
    "build_model",
    "load_data",
    "normalize",
    "read_telemetry",
    "watch",
]
