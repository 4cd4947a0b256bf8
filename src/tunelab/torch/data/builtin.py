"""The small datasets that ship with scikit-learn, by name, so a study can start without a file."""

from __future__ import annotations

import numpy as np

from tunelab.torch.data.base import Source, sklearn_module

# Each name's loader in sklearn.datasets, imported when data is loaded (it takes a second).
# digits_images is digits reshaped into the 8x8 pictures its 64 features are; digits_sequences
# reads each picture as a sequence of 8 rows (steps) of 8 pixels (features).
_LOADERS = {
    "digits": "load_digits",
    "digits_images": "load_digits",
    "digits_sequences": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
}
BUILTIN_DATASETS = tuple(_LOADERS)


def load_builtin(name: str) -> Source:
    """The built-in dataset ``name``, one of :data:`BUILTIN_DATASETS`."""
    bunch = getattr(sklearn_module("sklearn.datasets"), _LOADERS[name])()
    x = bunch.data.astype(np.float32)
    if name == "digits_images":
        x = x.reshape(-1, 1, 8, 8)
    elif name == "digits_sequences":
        x = x.reshape(-1, 8, 8)
    class_names: tuple[str, ...]
    if name == "diabetes":
        y = bunch.target.astype(np.float32).reshape(-1, 1)
        task, class_names = "regression", ()
    else:
        y = bunch.target.astype(np.int64)
        task, class_names = "classification", tuple(str(label) for label in bunch.target_names)
    # The digits as pictures or sequences keep no feature names: their features are pixels.
    columns = () if x.ndim > 2 else tuple(str(name) for name in bunch.feature_names)
    return Source(
        x, y, task, class_names, x_field="name", y_field="name", locate=lambda row: f"row {row}",
        columns=columns,
    )
