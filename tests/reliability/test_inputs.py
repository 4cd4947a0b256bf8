"""Every bad input a user can give, met where the user meets it (the command line): exit code 2,
one paragraph naming the field and the fix, never a traceback nor exit code 1 ("unexpected").

The malformed study files are the ones the study-file tests check without the command line
(``MALFORMED``), and the broken .npz files the ones the data tests check (``BAD_ARCHIVES``);
this file adds the training-task and command-line cases and asserts the same of all of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from typer.testing import Result

import tunelab
from tests.cli.helpers import (
    MALFORMED,
    MIXED_STUDY,
    Case,
    expected_fragments,
    invoke,
    write_case,
    write_study,
)
from tests.torch.data.helpers import BAD_ARCHIVES, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so that a storage a command creates lands in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def the_error(result: Result) -> str:
    """The one paragraph a refused command prints, checked to be one: exit code 2, no traceback,
    tunelab's 'error: ...' line or the single line in the box of a command-line usage error."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    stderr = result.stderr
    if stderr.startswith("error: "):
        assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
        message = stderr.removeprefix("error: ").rstrip("\n")
    else:
        boxed = [line.strip("│ ") for line in stderr.splitlines() if line.startswith("│")]
        assert len(boxed) == 1, stderr
        message = boxed[0]
    assert not message.startswith("unexpected")
    return message


# Study files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", MALFORMED, ids=[case.id for case in MALFORMED])
def test_a_malformed_study_file_is_one_paragraph(case: Case, workdir: Path) -> None:
    path, module = write_case(case, workdir)

    message = the_error(invoke("run", str(path)))

    for fragment in expected_fragments(case, module):
        assert fragment in message


# Training tasks: their data and their model ---------------------------------------------------


class TaskCase(NamedTuple):
    """A study file's ``task:`` section (indented under it), the files it reads, and the words
    its error must contain."""

    id: str
    task: str
    fragments: tuple[str, ...]
    write_files: Callable[[Path], Any] = lambda directory: None


NPZ_TASK = "  data: {name: npz, path: data.npz}\n"
DIGITS_MLP = "  data: {name: digits}\n  search: {}\n"


def _npz_case(archive: Any) -> TaskCase:
    return TaskCase(
        f"npz-{archive.id}",
        NPZ_TASK,
        (f"field 'task.{archive.field}'", "data.npz", *archive.words),
        lambda directory: archive.write(directory / "data.npz"),
    )


def _long_cell(directory: Path) -> None:
    write_csv(directory / "data.csv", ["a", "y"], [["1" * 200_000, 0], [2, 1]])


TASK_CASES = [
    *[_npz_case(archive) for archive in BAD_ARCHIVES],
    TaskCase(
        "csv-cell-past-the-reader-limit",
        "  data: {name: csv, path: data.csv, target: y}\n",
        ("field 'task.data.path'", "cannot be read as csv"),
        _long_cell,
    ),
    TaskCase(
        "data-path-with-nul",
        '  data: {name: npz, path: "data\\0.npz"}\n',
        ("field 'task.data.path'", "needs the path of the file"),
    ),
    TaskCase(
        "model-too-wide",
        DIGITS_MLP + "  model: {name: mlp, width: 100000000000}\n",
        ("field 'task.model.width'", "about 10**22 parameters", "the limit of 2,147,483,648",
         "choose a smaller width or depth", "model.max_parameters"),
    ),
    TaskCase(
        "cnn-too-many-channels",
        "  data: {name: digits_images}\n  model: {name: cnn, channels: 10000000}\n",
        ("field 'task.model.channels'", "channels 10000000", "max_parameters"),
    ),
    TaskCase(
        "model-too-deep",
        DIGITS_MLP + "  model: {name: mlp, depth: 1000000000}\n",
        ("field 'task.model.depth'", "at most 1000"),
    ),
    TaskCase(
        "every-searched-width-too-large",
        "  data: {name: digits}\n  search: {model.width: [100000000000, 200000000000]}\n",
        ("field 'task.search.model.width'", "width 100000000000", "max_parameters"),
    ),
    TaskCase(
        "max-parameters-not-a-number",
        DIGITS_MLP + "  model: {name: mlp, max_parameters: lots}\n",
        ("field 'task.model.max_parameters'", "'lots'"),
    ),
    TaskCase(
        "search-entry-given-twice",
        "  data: {name: digits}\n  search:\n    lr: {low: 1.0e-4, high: 1.0e-1}\n"
        "    lr: [0.1]\n",
        ("key 'lr' is given twice", "line 6 and line 7"),
    ),
]


@pytest.mark.parametrize("case", TASK_CASES, ids=[case.id for case in TASK_CASES])
def test_a_bad_training_task_is_one_paragraph(case: TaskCase, workdir: Path) -> None:
    case.write_files(workdir)
    (workdir / "task.yaml").write_text(f"name: demo\nn_trials: 1\ntask:\n{case.task}")

    message = the_error(invoke("run", "task.yaml"))

    assert message.startswith("task.yaml: ")
    for fragment in case.fragments:
        assert fragment in message
    assert not (workdir / "tunelab.db").exists()


class _TouchesWhenUnpickled:
    """Unpickling it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return Path.touch, (self.marker,)


def test_an_object_array_is_refused_without_being_unpickled(workdir: Path) -> None:
    marker = workdir / "unpickled"
    labels = np.array([_TouchesWhenUnpickled(marker)] * 4, dtype=object)
    np.savez(workdir / "data.npz", x=np.ones((4, 2)), y=labels)
    (workdir / "task.yaml").write_text(f"name: demo\nn_trials: 1\ntask:\n{NPZ_TASK}")

    message = the_error(invoke("run", "task.yaml"))

    assert "field 'task.data.y'" in message and "Object arrays cannot be loaded" in message
    assert not marker.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_data_path_that_is_a_pipe_is_refused_rather_than_read_forever(workdir: Path) -> None:
    os.mkfifo(workdir / "data.npz")
    (workdir / "task.yaml").write_text(f"name: demo\nn_trials: 1\ntask:\n{NPZ_TASK}")

    message = the_error(invoke("run", "task.yaml"))

    assert "field 'task.data.path'" in message and "neither a file nor a folder" in message


@pytest.mark.slow
def test_a_trial_that_draws_a_model_too_large_fails_with_the_reason(workdir: Path) -> None:
    searched = "{model.width: [16, 100000000000]}"
    (workdir / "task.yaml").write_text(
        f"name: demo\nn_trials: 2\nsampler: {{name: grid, search_space: {searched}}}\n"
        "task:\n  data: {name: digits}\n  recipe: {epochs: 1}\n  artifacts: false\n"
        f"  search: {searched}\n"
    )

    result = invoke("run", "task.yaml")

    assert result.exit_code == 0, result.output
    trials = tunelab.load_study("demo", "sqlite:///tunelab.db").trials
    by_width = {t.params["model.width"]: t for t in trials}
    assert by_width[16].state is tunelab.TrialState.COMPLETE
    too_large = by_width[100000000000]
    assert too_large.state is tunelab.TrialState.FAIL
    assert "more than the limit of 2,147,483,648" in (too_large.fail_reason or "")


# Command lines --------------------------------------------------------------------------------

COMMAND_LINES = [
    (["run", "{study}", "--n-jobs", "abc"], ["'--n-jobs'", "valid integer"]),
    (["run", "{study}", "--n-jobs", "0"], ["field 'n_jobs' (given on the command line)"]),
    (["run", "{study}", "--n-jobs", "-2"], ["field 'n_jobs' (given on the command line)"]),
    (["run", "{study}", "--timeout", "soon"], ["field 'timeout' (given on the command line)",
                                               "'10m'"]),
    (["run", "{study}", "--timeout", "-5"], ["field 'timeout'", "positive"]),
    (["run", "{study}", "--sampler", "tpx"], ["field 'sampler.name' (given on the command line)",
                                              "did you mean 'tpe'"]),
    (["run", "{study}", "--n-trials", "0"], ["'--n-trials'"]),
    (["run", "{study}", "--seed", "x"], ["'--seed'"]),
    (["run", "{study}", "--storage", "results.db"], ["field 'storage'", "sqlite:///results.db"]),
    (["run", "{study}", "--fuse", "2"], ["field 'fuse'", "task:"]),
    (["run", "{study}", "--dask", "nowhere"], ["option --dask", "tcp://host:port"]),
    (["run", "{study}", "--bogus"], ["No such option: --bogus"]),
    (["run", "missing.yaml"], ["missing.yaml: no such file"]),
    (["show"], ["Missing argument 'STUDY'"]),
    (["show", "demo", "--storage", "sqlite:///missing.db"], ["option --storage", "missing.db"]),
    (["studies", "--storage", "nope"], ["option --storage", "not a storage URL"]),
    (["export", "demo", "--format", "xml"], ["'--format'", "'xml'"]),
    (["worker", "--storage", "sqlite:///x.db"], ["Missing option '--study'"]),
    (["worker", "--storage", "sqlite:///missing.db", "--study", "demo"], ["option --storage"]),
]


@pytest.mark.parametrize(
    ("args", "fragments"), COMMAND_LINES, ids=[" ".join(args) for args, _ in COMMAND_LINES]
)
def test_a_bad_command_line_is_one_paragraph(
    args: list[str], fragments: list[str], workdir: Path
) -> None:
    study = write_study(workdir, MIXED_STUDY)

    message = the_error(invoke(*(str(study) if a == "{study}" else a for a in args)))

    for fragment in fragments:
        assert fragment in message
    assert not (workdir / "tunelab.db").exists()
