"""Importing the objective a study file names as ``module:function``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.config.study_files import write_study
from tunelab.config import load_study_config, resolve_objective
from tunelab.exceptions import ConfigError


def test_objective_is_found_next_to_the_study_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_dir = tmp_path / "studies"
    study_dir.mkdir()
    path = write_study(study_dir, "name: demo\nobjective: {mod}:objective\nn_trials: 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_study_config(path)
    objective = resolve_objective(config.objective, path)

    class FixedTrial:
        def suggest_float(self, name: str, low: float, high: float) -> float:
            return 3.0

    assert objective(FixedTrial()) == 4.0


def test_objective_is_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / f"pkg_{uuid.uuid4().hex[:8]}"
    package.mkdir()
    (package / "train.py").write_text(
        "class Tasks:\n    @staticmethod\n    def run(trial):\n        return 1.0\n"
    )
    monkeypatch.chdir(tmp_path)

    objective = resolve_objective(f"{package.name}.train:Tasks.run")

    assert objective(None) == 1.0


def test_resolve_objective_without_a_file_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"^field 'objective': 'math' .* no attribute 'nope'"):
        resolve_objective("math:nope")
