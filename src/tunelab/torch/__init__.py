"""PyTorch training engine behind tunelab's built-in quickstart.

Everything here needs the ``torch`` extra; importing the package without PyTorch fails with
an error that says which extra to install rather than a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from tunelab.exceptions import MissingExtraError

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise MissingExtraError("torch", "torch", "tunelab.torch") from exc
