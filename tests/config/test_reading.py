"""Reading a study file's YAML, and the durations its fields may be written in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelab.config import parse_duration, read_study_file
from tunelab.config.reading import MAX_NESTING, MAX_VALUES
from tunelab.exceptions import ConfigError


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


def test_a_key_twice_names_both_lines_but_merge_keys_may_repeat_keys(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: t\nobjective: m:f\nn_trials: 1\n"
        "sampler: &defaults {name: tpe, seed: 1}\n"
        "pruner: {<<: *defaults, name: median, seed: 2}\n"
    )
    assert read_study_file(path)["pruner"] == {"name": "median", "seed": 2}
    path.write_text(
        "name: t\nn_trials: 1\ntask:\n  data: {name: digits}\n  search:\n"
        "    lr: {low: 1.0e-4, high: 1.0e-1}\n    optimizer: [adam, sgd]\n    lr: [0.1]\n"
    )
    with pytest.raises(ConfigError, match=r"study.yaml: the key 'lr' is given twice") as caught:
        read_study_file(path)
    assert "at line 6 and line 8" in str(caught.value)


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    depth = MAX_NESTING - 1  # below the top-level mapping
    path.write_text("name: t\nx: " + "[" * depth + "]" * depth + "\n")
    assert read_study_file(path)["name"] == "t"
    path.write_text("name: t\nx: " + "[" * (depth + 1) + "]" * (depth + 1) + "\n")
    with pytest.raises(ConfigError, match=f"deeper than {MAX_NESTING} levels at line 2"):
        read_study_file(path)


def test_aliases_that_nest_past_the_limit_are_refused(tmp_path: Path) -> None:
    """Each anchor is shallow, but the alias inside the second stacks the first in it."""
    half = "[" * (MAX_NESTING // 2 + 1), "]" * (MAX_NESTING // 2 + 1)
    path = tmp_path / "study.yaml"
    path.write_text(f"a: &a {half[0]}{half[1]}\nb: {half[0]}*a{half[1]}\n")
    with pytest.raises(ConfigError, match=f"deeper than {MAX_NESTING} levels at line 2"):
        read_study_file(path)


def test_aliases_may_repeat_values_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    aliases = ", ".join(["*ten"] * 20)
    path.write_text(f"ten: &ten [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\nx: [{aliases}]\n")
    assert len(read_study_file(path)["x"]) == 20
    thousand = ", ".join(["0"] * 1000)
    path.write_text(f"k: &k [{thousand}]\nx: [" + ", ".join(["*k"] * 100) + "]\n")
    with pytest.raises(ConfigError, match=f"line 2 holds more than {MAX_VALUES:,} values"):
        read_study_file(path)
