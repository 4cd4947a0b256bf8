"""A live web dashboard over a storage: watch studies run, drill into trials, compare them,
and steer a running study (stop it, prune a trial, enqueue a configuration, add notes).

:func:`create_app` makes the ASGI app (Starlette); :func:`serve` runs it with uvicorn, and
:func:`serving` runs it in a thread beside a study. Pages are served from the package with
plotly.js, so the dashboard works offline. It reads the storage only: it never imports or
reads what a stored record names. See :mod:`.security` for the token, read-only mode and
what protects the writes, and :mod:`.feed` for how changes reach open pages.

Needs the ``web`` extra (starlette, uvicorn, plotly).
"""

from __future__ import annotations

from tunelab.exceptions import MissingExtraError

try:
    import starlette  # noqa: F401
except ImportError as error:
    raise MissingExtraError("starlette", "web", "tunelab.dashboard") from error

from tunelab.dashboard.app import create_app
from tunelab.dashboard.server import serve, serving

__all__ = ["create_app", "serve", "serving"]
