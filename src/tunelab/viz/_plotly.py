"""The one place tunelab.viz imports plotly, so that a missing extra fails with one clear error.

Every figure module takes ``go``, ``make_subplots`` and the colour palettes from here rather
than importing plotly itself: without the ``plots`` extra, ``import tunelab.viz`` raises
:class:`~tunelab.exceptions.MissingExtraError` naming the package and the extra to install.
"""

from __future__ import annotations

from tunelab.exceptions import MissingExtraError

try:
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots
except ImportError as exc:
    raise MissingExtraError("plotly", "plots", "tunelab.viz") from exc

__all__ = ["go", "make_subplots", "qualitative"]
