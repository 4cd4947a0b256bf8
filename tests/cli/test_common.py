"""What every command shares: exit codes, one-paragraph errors, --debug, and the storage checks
of the commands that only read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tunelab
from tests.cli.helpers import (
    MALFORMED,
    MIXED_STUDY,
    Case,
    expected_fragments,
    invoke,
    python_env,
    write_case,
    write_study,
)

# Errors and exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize("case", MALFORMED, ids=[case.id for case in MALFORMED])
def test_malformed_file_exits_2_with_the_field_and_no_traceback(case: Case, workdir: Path) -> None:
    path, module = write_case(case, workdir)

    result = invoke("run", str(path))

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    for fragment in expected_fragments(case, module):
        assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert not (workdir / "tunelab.db").exists()


def test_debug_shows_the_traceback(workdir: Path) -> None:
    case = next(c for c in MALFORMED if c.id == "objective-import-raises")
    path, _ = write_case(case, workdir)

    result = invoke("run", str(path), "--debug")

    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "RATE = 1 / 0" in result.stderr
    assert "error: " in result.stderr


def test_import_error_without_debug_suggests_it(workdir: Path) -> None:
    case = next(c for c in MALFORMED if c.id == "objective-import-raises")
    path, _ = write_case(case, workdir)

    result = invoke("run", str(path))

    assert "Rerun with --debug to see the traceback." in result.stderr


def test_usage_errors_exit_2(workdir: Path) -> None:
    assert invoke("run", "--n-trials", "0").exit_code == 2
    assert invoke("show").exit_code == 2
    assert invoke("export", "demo", "--format", "xml").exit_code == 2


def test_unexpected_error_exits_1_with_a_hint(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_study(workdir, MIXED_STUDY)
    assert invoke("run", str(path)).exit_code == 0

    def broken(study: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("tunelab.dataframe.trial_rows", broken)
    result = invoke("export", "demo")

    assert result.exit_code == 1
    assert "unexpected RuntimeError: disk on fire" in result.stderr
    assert "--debug" in result.stderr
    assert "Traceback" not in result.output
    assert "Traceback" in invoke("export", "demo", "--debug").stderr


def test_an_error_is_one_line_however_narrow_the_terminal(workdir: Path) -> None:
    result = invoke("show", "demo", "--storage", "sqlite:///missing.db", columns=40)

    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert len(result.stderr) > 40


NARROWED_SHOW = """\
from typer.testing import CliRunner
from tunelab.cli import app
print(CliRunner().invoke(app, ["show", "demo"], env={"COLUMNS": "40"}).stdout, end="")
"""


def test_output_fits_the_terminal_as_it_is_when_the_command_runs(
    finished_study: list[tunelab.TrialRecord], workdir: Path
) -> None:
    """The terminal is 200 columns wide when the command is imported, 40 when it runs."""
    shown = subprocess.run(
        [sys.executable, "-c", NARROWED_SHOW],
        cwd=workdir,
        env=python_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "demo" in shown and "Best 2 trials" in " ".join(shown.split())
    assert max(len(line) for line in shown.splitlines()) <= 40


# Missing storages and studies -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["studies"],
        ["show", "demo"],
        ["export", "demo"],
        ["delete", "demo", "--yes"],
        ["report", "demo"],
        ["doctor", "demo"],
        ["studies", "--storage", "sqlite:///sub/missing.db"],
        ["show", "demo", "--storage", "sqlite:///missing.db"],
    ],
)
def test_reading_a_missing_storage_file_exits_2_and_creates_nothing(
    args: list[str], workdir: Path
) -> None:
    result = invoke(*args)

    assert result.exit_code == 2
    assert "there is no storage file" in result.stderr
    assert "tunelab run STUDY_FILE" in result.stderr
    assert list(workdir.iterdir()) == []


def test_a_storage_that_is_not_a_file_is_not_looked_for(workdir: Path) -> None:
    result = invoke("studies", "--storage", "sqlite://")

    assert result.exit_code == 0, result.output
    assert "No studies in sqlite:// yet" in result.stdout
    assert list(workdir.iterdir()) == []


def test_bad_storage_option_exits_2(workdir: Path) -> None:
    result = invoke("studies", "--storage", "mysql://me@host/db")

    assert result.exit_code == 2
    assert "option --storage" in result.stderr and "'mysql'" in result.stderr


@pytest.mark.parametrize("command", ["show", "export", "delete"])
def test_unknown_study_exits_2(command: str, finished_study: list[tunelab.TrialRecord]) -> None:
    result = invoke(command, "nope", "--yes") if command == "delete" else invoke(command, "nope")

    assert result.exit_code == 2
    assert "no study named 'nope'" in result.stderr
    assert "Traceback" not in result.output
