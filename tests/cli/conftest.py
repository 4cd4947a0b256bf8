"""Fixtures of the command-line tests: a current directory of their own, and a finished study."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tunelab
from tests.cli.helpers import MIXED_OBJECTIVE, MIXED_STUDY, invoke, stored_trials, write_study


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so that the default storage lands in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(sys.path))
    return tmp_path


@pytest.fixture
def finished_study(workdir: Path) -> list[tunelab.TrialRecord]:
    """Study 'demo' in ./tunelab.db: trial 0 complete, 1 pruned, 2 failed, 3 complete."""
    path = write_study(workdir, MIXED_STUDY, MIXED_OBJECTIVE)
    assert invoke("run", str(path)).exit_code == 0
    return stored_trials("demo")
