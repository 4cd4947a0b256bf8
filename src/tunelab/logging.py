"""Verbosity of tunelab's log, under the names of ``optuna.logging``.

Everything tunelab logs goes to the ``tunelab`` logger of the standard library. By default it
is quiet: warnings (a failed trial, a lost connection) show, one line per finished trial does
not, since the per-trial lines cost time on every trial and the CLI shows progress with a bar.
So ``set_verbosity(WARNING)``, which an Optuna script calls to silence Optuna, leaves tunelab
as quiet as it already is, and ``set_verbosity(INFO)`` brings the per-trial lines back.

The default handler writes to stderr only where nothing else would show the record: while
the CLI has its own (rich) handler on the logger, or while records propagate to a root logger
the application configured (``logging.basicConfig``, pytest), it stays silent, so that a line
never prints twice and the CLI's progress bar is never written into.
"""

from __future__ import annotations

import logging
import sys
from logging import CRITICAL, DEBUG, ERROR, FATAL, INFO, WARN, WARNING

__all__ = [
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "WARN",
    "WARNING",
    "disable_default_handler",
    "disable_propagation",
    "enable_default_handler",
    "enable_propagation",
    "get_logger",
    "get_verbosity",
    "set_verbosity",
]

LIBRARY_LOGGER = "tunelab"


class _DefaultHandler(logging.Handler):
    """stderr, for the records that no other handler would show. It writes to ``sys.stderr``
    as it is when the record comes, so that where a notebook or a test redirects stderr, the
    log goes too."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a broken stream must not break the study, as in logging's own
            self.handleError(record)

    def filter(self, record: logging.LogRecord) -> bool:
        return bool(super().filter(record)) and not _shown_elsewhere(self)


def _shown_elsewhere(default: logging.Handler) -> bool:
    logger = _library_logger()
    if any(handler is not default for handler in logger.handlers):
        return True
    return logger.propagate and bool(logging.getLogger().handlers)


def _library_logger() -> logging.Logger:
    return logging.getLogger(LIBRARY_LOGGER)


_default_handler = _DefaultHandler()
_default_handler.setFormatter(logging.Formatter("[%(levelname)1.1s %(asctime)s] %(message)s"))
_library_logger().addHandler(_default_handler)


def get_logger(name: str) -> logging.Logger:
    """The logger called ``name``; a name under ``tunelab.`` follows tunelab's verbosity.

    ``"optuna"`` (and names under it) mean tunelab's own logger, as they mean the library's
    logger in an Optuna script: a handler added to it receives what tunelab logs.
    """
    if name == "optuna" or name.startswith("optuna."):
        name = LIBRARY_LOGGER + name.removeprefix("optuna")
    return logging.getLogger(name)


def get_verbosity() -> int:
    """The level below which tunelab's records are dropped (WARNING unless set)."""
    return _library_logger().getEffectiveLevel()


def set_verbosity(verbosity: int) -> None:
    """Show tunelab's records of level ``verbosity`` and above (INFO: one line per trial)."""
    _library_logger().setLevel(verbosity)


def disable_default_handler() -> None:
    """Stop writing tunelab's records to stderr (they still propagate, if propagation is on)."""
    _library_logger().removeHandler(_default_handler)


def enable_default_handler() -> None:
    """Write tunelab's records to stderr again where nothing else shows them."""
    _library_logger().addHandler(_default_handler)


def disable_propagation() -> None:
    """Keep tunelab's records from the root logger's handlers."""
    _library_logger().propagate = False


def enable_propagation() -> None:
    """Pass tunelab's records on to the root logger's handlers (on by default, as for any
    library logger; the default handler then stays silent whenever the root has a handler)."""
    _library_logger().propagate = True
