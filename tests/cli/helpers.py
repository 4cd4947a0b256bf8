"""What the command-line tests share: running the command in-process, reading what it stored,
and the study files they run (the malformed ones come from the study-file tests, which check
the same problems without the command line)."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner, Result

import tunelab
from tests.config.study_files import MALFORMED, Case, expected_fragments, write_case, write_study
from tunelab.cli import app

__all__ = [
    "MALFORMED",
    "MIXED_OBJECTIVE",
    "MIXED_STUDY",
    "Case",
    "expected_fragments",
    "invoke",
    "python_env",
    "states",
    "stored_trials",
    "write_case",
    "write_study",
]

MIXED_OBJECTIVE = """\
import tunelab

def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if trial.number % 4 == 1:
        raise tunelab.TrialPruned()
    if trial.number % 4 == 2:
        raise ValueError("bad luck")
    return (x - 1.0) ** 2
"""

MIXED_STUDY = "name: demo\nobjective: {mod}:objective\nn_trials: 4\nseed: 0\n"


def invoke(*args: str, input: str | None = None, columns: int = 200) -> Result:
    """The command run in this process, on a terminal ``columns`` wide whatever the real one."""
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": str(columns)})


def stored_trials(study: str, storage: str = "sqlite:///tunelab.db") -> list[tunelab.TrialRecord]:
    return tunelab.load_study(study, storage).trials


def states(records: list[tunelab.TrialRecord]) -> list[str]:
    return [r.state.name for r in records]


def python_env(**variables: str) -> dict[str, str]:
    """This process's environment, plus ``variables``, for a Python process that imports the
    tunelab under test wherever it runs (a relative PYTHONPATH would not follow it there)."""
    source = str(Path(tunelab.__file__).parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **variables}


def assert_refused_keeping(result: Result, study: str, before: list[tunelab.TrialRecord],
                           *fragments: str) -> None:
    """The command exited 2 with a message holding each of ``fragments`` (however the terminal
    wrapped it) and no traceback, and ``study`` still holds the trials it held ``before``."""
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in result.output
    assert stored_trials(study) == before
