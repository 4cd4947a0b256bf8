"""The ``tunelab`` command line: exit codes, messages, resuming, exporting, and surviving a kill.

Most tests run the command in-process with typer's CliRunner; the signal tests start a real
process, since Ctrl-C and SIGKILL are about what a separate process leaves behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import tunelab
from tests.test_config import MALFORMED, Case, expected_fragments, write_case, write_study
from tunelab.cli import app

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

SLEEPY_OBJECTIVE = """\
import pathlib
import time

MARKERS = pathlib.Path({markers!r})

def objective(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    (MARKERS / f"sleeping-{{trial.number}}").touch()
    time.sleep({seconds})
    return x * x
"""

STEPPED_OBJECTIVE = """\
import tunelab

def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    for step in range(1, 11):
        trial.report(x * x, step=step)
        if trial.number % 2 == 1 and step == 2:
            raise tunelab.TrialPruned()
    return x * x
"""

MIXED_STUDY = "name: demo\nobjective: {mod}:objective\nn_trials: 4\nseed: 0\n"
CLI = "import sys; sys.argv[0] = 'tunelab'; from tunelab.cli import main; main()"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so that the default storage lands in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(sys.path))
    return tmp_path


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"})


def stored_trials(study: str, storage: str = "sqlite:///tunelab.db") -> list[tunelab.TrialRecord]:
    return tunelab.load_study(study, storage).trials


def states(records: list[tunelab.TrialRecord]) -> list[str]:
    return [r.state.value for r in records]


# Malformed study files ------------------------------------------------------------------------


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


def test_bad_command_line_value_is_blamed_on_the_option(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY)

    result = invoke("run", str(path), "--sampler", "tpx")

    assert result.exit_code == 2
    assert "field 'sampler.name' (given on the command line)" in result.stderr


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


# Running and resuming -------------------------------------------------------------------------


def test_the_run_summary_says_how_many_steps_pruning_saved(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY, STEPPED_OBJECTIVE)

    result = invoke("run", str(path))

    assert result.exit_code == 0, result.output
    assert "This run: 2 complete, 2 pruned, 0 failed" in result.stdout
    # 2 x 10 steps complete and 2 x 2 pruned: 24 run of 40
    assert "Pruning saved 40% of the steps: 24 run where 40 would have run every trial to " \
        "step 10." in " ".join(result.stdout.split())


PID_OBJECTIVE = """\
import os
import time

def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    trial.set_user_attr("pid", os.getpid())
    time.sleep(0.2)
    return (x - 1.0) ** 2
"""


def test_run_with_n_jobs_uses_worker_processes_and_a_worker_joins_later(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY, PID_OBJECTIVE)

    first = invoke("run", str(path), "--n-jobs", "2")
    joined = invoke("worker", "--storage", "sqlite:///tunelab.db", "--study", "demo", "-n", "3")

    assert first.exit_code == 0, first.output
    assert "This run: 4 complete" in first.stdout
    assert joined.exit_code == 0, joined.output
    assert "resuming after 4 trials" in joined.stdout
    assert "This run: 3 complete" in joined.stdout
    trials = stored_trials("demo")
    assert [r.number for r in trials] == list(range(7))
    assert len({r.user_attrs["pid"] for r in trials[:4]}) == 2


def test_a_worker_for_a_study_that_run_did_not_start_says_how_to_start_it(workdir: Path) -> None:
    tunelab.create_study(name="bare", storage="sqlite:///tunelab.db")

    result = invoke("worker", "--storage", "sqlite:///tunelab.db", "--study", "bare")

    assert result.exit_code == 2
    assert "was not started by `tunelab run`" in result.stderr


def test_run_twice_resumes_and_counts(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY, MIXED_OBJECTIVE)

    first = invoke("run", str(path))
    second = invoke("run", str(path))

    assert first.exit_code == 0, first.output
    assert "a new study" in first.stdout
    assert "This run: 2 complete, 1 pruned, 1 failed (trials 0-3)" in first.stdout
    assert second.exit_code == 0, second.output
    assert "resuming after 4 trials" in second.stdout
    assert "This run: 2 complete, 1 pruned, 1 failed (trials 4-7)" in second.stdout
    assert "Best 4 trials" in second.stdout
    trials = stored_trials("demo")
    assert [r.number for r in trials] == list(range(8))
    assert states(trials) == ["COMPLETE", "PRUNED", "FAIL", "COMPLETE"] * 2
    assert "bad luck" in (trials[2].fail_reason or "")

    listing = invoke("studies")
    assert listing.exit_code == 0
    row = next(line.split() for line in listing.stdout.splitlines() if line.startswith("demo"))
    assert row[1:7] == ["min", "8", "4", "2", "2", "0"]
    best = min(r.value for r in trials if r.value is not None)
    assert row[7] == f"{best:.6g}"

    shown = invoke("show", "demo", "--top", "3")
    assert shown.exit_code == 0
    assert "Trials: 8 in all: 4 complete, 2 pruned, 2 fail, 0 running, 0 waiting" in shown.stdout
    assert "Best 3 trials" in shown.stdout


def test_budget_options_replace_the_files_budget(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY.replace("n_trials: 4", "n_trials: 100\ntimeout: 1h"))

    result = invoke("run", str(path), "--n-trials", "2", "--storage", "sqlite:///other.db")

    assert result.exit_code == 0, result.output
    assert "Running 2 trials;" in result.stdout
    assert len(stored_trials("demo", "sqlite:///other.db")) == 2
    assert "--storage sqlite:///other.db" in result.stdout


def test_all_trials_failing_exits_2_with_the_reason(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY, "def objective(trial):\n    return {}['missing']\n")

    result = invoke("run", str(path))

    assert result.exit_code == 2
    assert "all 4 trials of this run failed" in result.stderr
    assert "KeyError" in result.stderr
    assert states(stored_trials("demo")) == ["FAIL"] * 4


def test_run_leaves_the_tunelab_logger_as_it_found_it(workdir: Path) -> None:
    logger = logging.getLogger("tunelab")
    before = (list(logger.handlers), logger.level, logger.propagate)
    path = write_study(workdir, MIXED_STUDY, MIXED_OBJECTIVE)

    assert invoke("run", str(path), "-v").exit_code == 0

    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_multi_objective_show_lists_the_pareto_front(workdir: Path) -> None:
    study = tunelab.create_study(
        name="multi",
        storage="sqlite:///tunelab.db",
        directions=["minimize", "maximize"],
        metric_names=["loss", "accuracy"],
    )
    for loss, accuracy in [(1.0, 0.5), (2.0, 0.9), (3.0, 0.4)]:
        study.tell(study.ask(), [loss, accuracy])

    result = invoke("show", "multi")

    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.stdout
    assert "2 trial(s) on the Pareto front" in result.stdout
    assert "Pareto front" in invoke("studies").stdout


def test_quickstart_runs_with_its_defaults(workdir: Path) -> None:
    """One trial only: each quickstart trial trains a network for about 4 s."""
    pytest.importorskip("torch")
    from tunelab.torch.quickstart import QUICKSTART_STUDY_NAME

    result = invoke("run", "--n-trials", "1")

    assert result.exit_code == 0, result.output
    trials = stored_trials(QUICKSTART_STUDY_NAME)
    assert states(trials) == ["COMPLETE"]
    assert 0.0 <= trials[0].value <= 1.0
    assert tunelab.load_study(QUICKSTART_STUDY_NAME, "sqlite:///tunelab.db").direction == "maximize"


# Declarative training tasks ------------------------------------------------------------------

TASK_STUDY = """\
name: csv-task
n_trials: {n_trials}
seed: 0
task:
  data: {{name: csv, path: {csv}, target: label}}
  model: {{name: mlp, depth: 1, width: 8}}
  recipe: {{epochs: 2, batch_size: 8}}
  artifacts: false
  search:
    lr: {{low: 1e-3, high: 1e-1, log: true}}
"""


def write_csv(path: Path, rows: int = 40, bad_row: int | None = None) -> Path:
    lines = ["a,b,label"]
    for i in range(rows):
        a = "nan" if i == bad_row else str(i % 7)
        lines.append(f"{a},{(i * 3) % 5},{i % 2}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_task_file_runs_and_infers_direction_and_metric(workdir: Path) -> None:
    pytest.importorskip("torch")
    write_csv(workdir / "data.csv")
    (workdir / "task.yaml").write_text(TASK_STUDY.format(n_trials=2, csv="data.csv"))

    result = invoke("run", "task.yaml")

    assert result.exit_code == 0, result.output
    study = tunelab.load_study("csv-task", "sqlite:///tunelab.db")
    assert study.direction == "maximize"
    assert study.metric_names == ("val_accuracy",)
    assert states(study.trials) == ["COMPLETE", "COMPLETE"]


def test_fuse_trains_a_task_files_trials_together(workdir: Path) -> None:
    pytest.importorskip("torch")
    write_csv(workdir / "data.csv")
    (workdir / "task.yaml").write_text(TASK_STUDY.format(n_trials=3, csv="data.csv"))

    result = invoke("run", "task.yaml", "--fuse", "2")

    assert result.exit_code == 0, result.output
    study = tunelab.load_study("csv-task", "sqlite:///tunelab.db")
    assert states(study.trials) == ["COMPLETE"] * 3


def test_fuse_with_an_objective_function_exits_2(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY, MIXED_OBJECTIVE)

    result = invoke("run", str(path), "--fuse", "2")

    assert result.exit_code == 2, result.output
    assert "field 'fuse'" in result.output and "declare the training under 'task:'" in result.output


@pytest.mark.parametrize(
    ("make_data", "fragments"),
    [
        (lambda d: None, ["field 'task.data.path'", "does not exist", "missing.csv"]),
        (lambda d: write_csv(d / "missing.csv", bad_row=3), ["NaN", "line 5", "column 'a'"]),
    ],
    ids=["missing-file", "nan-in-features"],
)
def test_bad_task_data_exits_2_before_training_and_keeps_what_is_stored(
    workdir: Path, make_data: Any, fragments: list[str]
) -> None:
    pytest.importorskip("torch")
    write_csv(workdir / "data.csv")
    (workdir / "task.yaml").write_text(TASK_STUDY.format(n_trials=2, csv="data.csv"))
    assert invoke("run", "task.yaml").exit_code == 0
    before = stored_trials("csv-task")
    make_data(workdir)
    (workdir / "task.yaml").write_text(TASK_STUDY.format(n_trials=2, csv="missing.csv"))

    result = invoke("run", "task.yaml")

    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output
    assert "Traceback" not in result.output
    assert stored_trials("csv-task") == before


@pytest.mark.parametrize(
    "example", sorted(p.name for p in (Path(__file__).parent.parent / "examples").glob("*.yaml"))
)
def test_every_example_study_file_is_valid(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from tunelab.config import load_study_config

    examples = Path(__file__).parent.parent / "examples"
    monkeypatch.setattr("sys.path", list(sys.path))
    config = load_study_config(examples / example)
    assert config.n_trials or config.timeout


# Export and delete ----------------------------------------------------------------------------


@pytest.fixture
def finished_study(workdir: Path) -> list[tunelab.TrialRecord]:
    path = write_study(workdir, MIXED_STUDY, MIXED_OBJECTIVE)
    assert invoke("run", str(path)).exit_code == 0
    return stored_trials("demo")


def test_export_csv_to_stdout(finished_study: list[tunelab.TrialRecord]) -> None:
    result = invoke("export", "demo", "--format", "csv")

    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(row["number"]) for row in rows] == [r.number for r in finished_study]
    assert [row["state"] for row in rows] == states(finished_study)
    assert {"value", "params_x", "params_kind", "datetime_start", "duration", "fail_reason"} <= set(
        rows[0]
    )
    assert float(rows[0]["value"]) == finished_study[0].value
    assert rows[1]["value"] == ""
    assert "bad luck" in rows[2]["fail_reason"]


def test_export_json_to_a_file(finished_study: list[tunelab.TrialRecord], workdir: Path) -> None:
    result = invoke("export", "demo", "-o", "trials.json")

    assert result.exit_code == 0
    assert "Wrote 4 trials" in result.stderr
    rows = json.loads((workdir / "trials.json").read_text())
    assert [row["number"] for row in rows] == [0, 1, 2, 3]
    assert rows[0]["params_x"] == finished_study[0].params["x"]
    assert datetime.fromisoformat(rows[0]["datetime_start"]) == finished_study[0].datetime_start
    assert rows[1]["value"] is None


def test_delete_asks_first(finished_study: list[tunelab.TrialRecord]) -> None:
    refused = invoke("delete", "demo", input="n\n")

    assert refused.exit_code == 1
    assert "Nothing deleted." in refused.stderr
    assert len(stored_trials("demo")) == 4

    accepted = invoke("delete", "demo", input="y\n")

    assert accepted.exit_code == 0
    assert "No studies" in invoke("studies").stdout


def test_delete_with_yes(finished_study: list[tunelab.TrialRecord]) -> None:
    result = invoke("delete", "demo", "--yes")

    assert result.exit_code == 0
    assert "Deleted study 'demo' and its 4 trials" in result.stdout
    assert invoke("show", "demo").exit_code == 2


# Missing storages and studies -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["studies"],
        ["show", "demo"],
        ["export", "demo"],
        ["delete", "demo", "--yes"],
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


def test_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert tunelab.__version__ in result.stdout


# Killed and interrupted runs ------------------------------------------------------------------


def _sleepy_study(directory: Path, seconds: float) -> Path:
    markers = directory / "markers"
    markers.mkdir()
    source = SLEEPY_OBJECTIVE.format(markers=str(markers), seconds=seconds)
    return write_study(
        directory, "name: sleepy\nobjective: {mod}:objective\nn_trials: 1000\nseed: 0\n", source
    )


def _start_run(directory: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "run", *args],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the study database, read-only so that polling never creates or locks it."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute(sql).fetchall()


def _wait_for(
    condition: Any, process: subprocess.Popen[str], what: str, limit: float = 60.0
) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            found = condition()
            if found:
                return found
        if process.poll() is not None:
            break
        time.sleep(0.02)
    process.kill()
    output, errors = process.communicate()
    pytest.fail(f"never saw {what}; the run printed:\n{output}\n{errors}")


def _completed(db: Path) -> dict[int, float]:
    rows = _query(db, "SELECT number, primary_value FROM tunelab_trials WHERE state = 'COMPLETE'")
    return dict(rows)


def test_sigkill_loses_no_finished_trial_and_the_study_continues(tmp_path: Path) -> None:
    path = _sleepy_study(tmp_path, 0.2)
    db = tmp_path / "tunelab.db"
    process = _start_run(tmp_path, str(path))

    _wait_for(lambda: len(_completed(db)) >= 3, process, "3 completed trials")
    before = _completed(db)
    process.kill()
    process.wait(timeout=30)

    after = _completed(db)
    assert all(after.get(number) == value for number, value in before.items())
    assert _query(db, "PRAGMA integrity_check") == [("ok",)]
    old_max = _query(db, "SELECT max(number) FROM tunelab_trials")[0][0]

    rerun = _start_run(tmp_path, str(path), "--n-trials", "3")
    output, errors = rerun.communicate(timeout=60)

    assert rerun.returncode == 0, output + errors
    final = _completed(db)
    new_numbers = set(final) - set(after)
    assert len(new_numbers) == 3 and min(new_numbers) > old_max
    assert len(final) == len(after) + 3


def test_sigint_stops_cleanly_with_exit_130(tmp_path: Path) -> None:
    path = _sleepy_study(tmp_path, 0.5)
    db = tmp_path / "tunelab.db"
    markers = tmp_path / "markers"
    process = _start_run(tmp_path, str(path))

    def sleeping_trial() -> int | None:
        """The running trial, once 3 finished and it has just started to sleep."""
        if len(_completed(db)) < 3:
            return None
        running = _query(db, "SELECT number FROM tunelab_trials WHERE state = 'RUNNING'")
        if not running:
            return None
        marker = markers / f"sleeping-{running[0][0]}"
        fresh = marker.exists() and time.time() - marker.stat().st_mtime < 0.25
        return running[0][0] if fresh else None

    number = _wait_for(sleeping_trial, process, "a sleeping trial after 3 completed ones")
    before = _completed(db)
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=30)

    assert process.returncode == 130, output + errors
    rows = _query(db, f"SELECT state, fail_reason FROM tunelab_trials WHERE number = {number}")
    assert rows[0][0] == "FAIL"
    assert "interrupted" in rows[0][1]
    assert _completed(db) == before
    assert _query(db, "SELECT count(*) FROM tunelab_trials WHERE state = 'RUNNING'") == [(0,)]
    assert f"Trial {number}, which was running, is marked FAIL" in errors
    assert "Continue with: tunelab run" in errors
    assert "Traceback" not in output + errors
