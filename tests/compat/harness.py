"""Run one script body twice: with ``optuna`` bound to Optuna itself, then to tunelab.

A compatibility test writes the body as an Optuna user would (``optuna.create_study(...)``,
``optuna.trial.TrialState``, ...), leaves what it wants compared in a dict named ``result``,
and compares the two dicts by kind (states, counts, whether something was pruned), not by
exact numbers: the two libraries draw different random numbers.
"""

from __future__ import annotations

import contextlib
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna

import tunelab
import tunelab.logging  # noqa: F401  its default handler belongs to the state scripts start from

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the tests read results, not logs

LIBRARIES: dict[str, ModuleType] = {"optuna": optuna, "tunelab": tunelab}


def run_script(body: str, library: str, folder: Path, **names: Any) -> dict[str, Any]:
    """Run ``body`` with ``optuna`` bound to ``library``; the ``result`` dict it leaves.

    ``storage_url`` is a SQLite file of its own in ``folder``, and ``folder`` (as text) is where
    it may write other files; ``names`` are further globals.
    """
    folder.mkdir(parents=True, exist_ok=True)
    scope: dict[str, Any] = {
        "__name__": f"compat_{library}",
        "optuna": LIBRARIES[library],
        "storage_url": f"sqlite:///{folder / f'{library}.db'}",
        "folder": str(folder),
        "result": {},
        **names,
    }
    with _logging_restored():  # scripts set verbosity and handlers, as a program may
        exec(compile(textwrap.dedent(body), f"<{library} script>", "exec"), scope)
    result = scope["result"]
    assert isinstance(result, dict), "the script must leave its results in a dict named result"
    return result


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Both libraries' loggers as they were before the block."""
    loggers = [logging.getLogger(name) for name in ("optuna", "tunelab")]
    saved = [(lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    try:
        yield
    finally:
        for logger, (level, handlers, propagate) in zip(loggers, saved):
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate


def run_both(body: str, folder: Path, **names: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``body``'s results under Optuna and under tunelab, each in a folder of its own."""
    return (
        run_script(body, "optuna", folder / "optuna", **names),
        run_script(body, "tunelab", folder / "tunelab", **names),
    )
