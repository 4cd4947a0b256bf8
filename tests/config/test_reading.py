"""Reading a study file's YAML, and the durations its fields may be written in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelab.config import parse_duration, read_study_file


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2m", 120.0),
        ("90s", 90.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1.5m", 90.0),
        ("45", 45.0),
        (30, 30.0),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "10 minutes", "5x", "0s", "-1m", "inf", "nan", True])
def test_bad_durations(text: str | bool) -> None:
    with pytest.raises(ValueError, match="'10m'"):
        parse_duration(text)


def test_exponents_without_a_decimal_point_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: t\nobjective: m:f\nn_trials: 1\ntask_lr: 1e-4\nx: -2E+3\n")
    data = read_study_file(path)
    assert data["task_lr"] == 1e-4 and data["x"] == -2000.0
