"""`tunelab run` and `tunelab worker`: running, resuming, budgets, tasks, fused trials, and what
a killed or interrupted run leaves behind.

Most tests run the command in-process; the signal tests start a real process, since Ctrl-C
and SIGKILL are about what a separate process leaves behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import tunelab
from tests.cli.helpers import (
    MIXED_OBJECTIVE,
    MIXED_STUDY,
    assert_refused_keeping,
    invoke,
    python_env,
    states,
    stored_trials,
    write_study,
)
from tests.report.page import ReportPage
from tunelab._attrs import WORKER_ATTR

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

QUADRATIC_OBJECTIVE = """\
def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    return (x - 1.0) ** 2
"""


# Running and resuming -------------------------------------------------------------------------


def test_the_run_summary_says_how_many_steps_pruning_saved(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY, STEPPED_OBJECTIVE)

    result = invoke("run", str(path))

    assert result.exit_code == 0, result.output
    assert "This run: 2 complete, 2 pruned, 0 failed" in result.stdout
    # 2 x 10 steps complete and 2 x 2 pruned: 24 run of 40
    assert "Pruning saved 40% of the steps: 24 run where 40 would have run every trial to " \
        "step 10." in " ".join(result.stdout.split())


def test_run_with_n_jobs_uses_worker_processes_and_a_worker_joins_later(workdir: Path) -> None:
    """Which worker process takes which trial is up to the scheduler: under load one of the two
    may take them all, so only their number is bounded."""
    path = write_study(workdir, MIXED_STUDY, QUADRATIC_OBJECTIVE)

    first = invoke("run", str(path), "--n-jobs", "2")
    joined = invoke("worker", "--storage", "sqlite:///tunelab.db", "--study", "demo", "-n", "3")

    assert first.exit_code == 0, first.output
    assert "This run: 4 complete" in first.stdout
    assert joined.exit_code == 0, joined.output
    assert "resuming after 4 trials" in joined.stdout
    assert "This run: 3 complete" in joined.stdout
    trials = stored_trials("demo")
    assert [r.number for r in trials] == list(range(7))
    this_process = f"{socket.gethostname()}:{os.getpid()}"
    workers = [r.system_attrs.get(WORKER_ATTR) for r in trials]
    assert None not in workers and this_process not in workers
    # the worker takes the stored n_jobs: 2 processes too
    assert 1 <= len(set(workers[:4])) <= 2 and 1 <= len(set(workers[4:])) <= 2


def test_run_with_n_jobs_on_a_study_in_memory_runs_threads_of_this_process(
    workdir: Path,
) -> None:
    path = write_study(workdir, MIXED_STUDY, QUADRATIC_OBJECTIVE)

    result = invoke("run", str(path), "--n-jobs", "2", "--storage", "memory")

    assert result.exit_code == 0, result.output
    assert "This run: 4 complete" in result.stdout
    assert not (workdir / "tunelab.db").exists()


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


def test_bad_command_line_value_is_blamed_on_the_option(workdir: Path) -> None:
    path = write_study(workdir, MIXED_STUDY)

    result = invoke("run", str(path), "--sampler", "tpx")

    assert result.exit_code == 2
    assert "field 'sampler.name' (given on the command line)" in result.stderr


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


# Objectives and limits -------------------------------------------------------------------------

COST_STUDY = """\
name: cost
sampler: random
seed: 0
n_trials: {n_trials}
task:
  data: {{name: iris, seed: 0}}
  model: {{name: mlp, depth: 1}}
  recipe: {{epochs: 2, batch_size: 16, lr: 0.05, optimizer: adam}}
  artifacts: false
  threads: 1
  search:
    model.width: [2, 4, 8, 16, 32]
{extra}"""

THREE_OBJECTIVES = "  objectives: [val_accuracy, parameters, inference_latency]\n"


@pytest.mark.slow
def test_a_study_of_accuracy_and_costs_runs_and_shows_its_front_with_units(
    workdir: Path,
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("plotly")
    (workdir / "cost.yaml").write_text(COST_STUDY.format(n_trials=5, extra=THREE_OBJECTIVES))

    result = invoke("run", "cost.yaml")

    assert result.exit_code == 0, result.output
    study = tunelab.load_study("cost", "sqlite:///tunelab.db")
    assert study.metric_names == ("val_accuracy", "parameters", "inference_latency")
    assert study.directions == ["maximize", "minimize", "minimize"]
    assert states(study.trials) == ["COMPLETE"] * 5
    front = study.best_trials
    assert front
    shown = invoke("show", "cost")
    assert shown.exit_code == 0, shown.output
    assert "Objectives: maximize val_accuracy, minimize parameters, minimize " \
        "inference_latency (ms)" in shown.stdout
    assert f"{len(front)} trial(s) on the Pareto front" in shown.stdout
    assert "inference_latency (ms)" in shown.stdout
    for record in front:
        assert f"│ {record.number:>5} │" in shown.stdout

    written = invoke("report", "cost", "-o", "cost.html")

    assert written.exit_code == 0, written.output
    html = (workdir / "cost.html").read_text(encoding="utf-8")
    page = ReportPage(html)
    table = page.table("best-trials")
    assert table[0][:4] == ["trial", "val_accuracy", "parameters", "inference_latency (ms)"]
    assert sorted(int(row[0]) for row in table[1:]) == sorted(r.number for r in front)
    assert "figure-pareto-front" in page.ids
    assert "the completed trials over val_accuracy, parameters, inference_latency (ms)" in \
        page.text("figures")
    # Three objectives: a 3-D scatter, each axis named with its unit.
    assert '"type":"scatter3d"' in html
    assert '"zaxis":{"title":{"text":"inference_latency (ms)"}}' in html


@pytest.mark.slow
def test_a_limit_no_model_meets_refuses_every_model_and_warns(workdir: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("plotly")
    (workdir / "cost.yaml").write_text(
        COST_STUDY.format(n_trials=10, extra="  limits: {parameters: 15}\n")
    )

    result = invoke("run", "cost.yaml")

    assert result.exit_code == 0, result.output
    records = stored_trials("cost")
    assert states(records) == ["COMPLETE"] * 10
    assert all("refused before training" in r.user_attrs["over_limit"] for r in records)
    assert all(not r.intermediate_values for r in records)  # none trained
    assert "none of the 10 trials that measured parameters met its limit 15; the smallest " \
        "was 19." in " ".join(result.output.split())
    assert "No completed trial meets its constraints yet." in result.output
    assert invoke("report", "cost", "-o", "cost.html").exit_code == 0
    best = ReportPage.read(workdir / "cost.html").text("best-trials")
    assert "No completed trial meets its constraints yet, so there is nothing to rank" in best
    assert "10 completed trial(s) broke a constraint and are not ranked; trial 0: parameters" \
        in best
    assert "is over the limit 15 (refused before training)." in best


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("  objectives: [val_accuracy, parameter]\n",
         ["field 'task.objectives[1]'", "did you mean 'parameters'"]),
        ("  limits: {train_seconds_per_epoc: 2}\n",
         ["field 'task.limits.train_seconds_per_epoc'", "did you mean 'train_seconds_per_epoch'"]),
        ("  limits: {peak_memory: 512ms}\n",
         ["field 'task.limits.peak_memory'", "'ms'", "MB (a number alone) or GB"]),
    ],
    ids=["unknown-objective", "unknown-limit", "wrong-unit"],
)
def test_bad_objectives_and_limits_exit_2_and_keep_what_is_stored(
    workdir: Path, extra: str, fragments: list[str]
) -> None:
    pytest.importorskip("torch")
    (workdir / "cost.yaml").write_text(COST_STUDY.format(n_trials=1, extra=""))
    assert invoke("run", "cost.yaml").exit_code == 0
    before = stored_trials("cost")
    (workdir / "cost.yaml").write_text(COST_STUDY.format(n_trials=1, extra=extra))

    assert_refused_keeping(invoke("run", "cost.yaml"), "cost", before, *fragments)


def test_a_domain_shift_of_tabular_data_exits_2_and_keeps_what_is_stored(workdir: Path) -> None:
    pytest.importorskip("torch")
    write_csv(workdir / "data.csv")
    (workdir / "task.yaml").write_text(TASK_STUDY.format(n_trials=2, csv="data.csv"))
    assert invoke("run", "task.yaml").exit_code == 0
    before = stored_trials("csv-task")
    shifted = TASK_STUDY.replace("target: label}}", "target: label, rotate: 90}}")
    (workdir / "task.yaml").write_text(shifted.format(n_trials=2, csv="data.csv"))

    result = invoke("run", "task.yaml")

    assert_refused_keeping(result, "csv-task", before, "task.data.rotate", "(N, C, H, W)")


EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_study_file_is_valid(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from tunelab.config import load_study_config

    monkeypatch.setattr("sys.path", list(sys.path))
    config = load_study_config(EXAMPLES / example)
    assert config.n_trials or config.timeout


# Killed and interrupted runs ------------------------------------------------------------------

SLEEPY_OBJECTIVE = """\
import pathlib
import time

MARKERS = pathlib.Path({markers!r})

def objective(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    (MARKERS / f"sleeping-{{trial.number}}").touch()
    time.sleep(0.2 if trial.number < {first_long_trial} else 600)
    return x * x
"""
# Ctrl-C is restored first: a shell starts background jobs with SIGINT ignored, the tests'
# children would inherit that, and the interrupted runs would never see the signal.
CLI = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'tunelab'; from tunelab.cli import main; main()"
)


def _sleepy_study(directory: Path, first_long_trial: int) -> Path:
    """A study whose trials each sleep 0.2 s, up to ``first_long_trial``, which sleeps until
    it is stopped; each trial leaves a marker file when it starts sleeping."""
    markers = directory / "markers"
    markers.mkdir()
    source = SLEEPY_OBJECTIVE.format(markers=str(markers), first_long_trial=first_long_trial)
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
        env=python_env(PYTHONUNBUFFERED="1"),
    )


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the study database, read-only so that polling never creates or locks it."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute(sql).fetchall()


def _wait_for(
    condition: Any, process: subprocess.Popen[str], what: str, limit: float = 120.0
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
    path = _sleepy_study(tmp_path, first_long_trial=1000)  # every trial short
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
    output, errors = rerun.communicate(timeout=120)

    assert rerun.returncode == 0, output + errors
    final = _completed(db)
    new_numbers = set(final) - set(after)
    assert len(new_numbers) == 3 and min(new_numbers) > old_max
    assert len(final) == len(after) + 3


def test_sigint_stops_cleanly_with_exit_130(tmp_path: Path) -> None:
    """Trial 3 sleeps until it is stopped, so the signal finds it running however late the
    signal comes."""
    path = _sleepy_study(tmp_path, first_long_trial=3)
    db = tmp_path / "tunelab.db"
    sleeping = tmp_path / "markers" / "sleeping-3"
    process = _start_run(tmp_path, str(path))

    _wait_for(sleeping.exists, process, "trial 3 asleep")
    before = _completed(db)
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=60)

    assert process.returncode == 130, output + errors
    assert sorted(before) == [0, 1, 2]
    rows = _query(db, "SELECT state, fail_reason FROM tunelab_trials WHERE number = 3")
    assert rows[0][0] == "FAIL"
    assert "interrupted" in rows[0][1]
    assert _completed(db) == before
    assert _query(db, "SELECT count(*) FROM tunelab_trials WHERE state = 'RUNNING'") == [(0,)]
    assert "Trial 3, which was running, is marked FAIL" in errors
    assert "Continue with: tunelab run" in errors
    assert "Traceback" not in output + errors


FACTORY_STUDY = """\
name: factory-task
n_trials: 1
task:
  data: {{name: "tests.torch.data.factories:{factory}", stream: true}}
  model: {{name: mlp, depth: 1, width: 8}}
  recipe: {{epochs: 1, batch_size: 16}}
  artifacts: false
"""


def test_a_data_function_that_raises_exits_2_and_keeps_what_is_stored(workdir: Path) -> None:
    pytest.importorskip("torch")
    (workdir / "task.yaml").write_text(FACTORY_STUDY.format(factory="parts"))
    assert invoke("run", "task.yaml").exit_code == 0
    before = stored_trials("factory-task")
    (workdir / "task.yaml").write_text(FACTORY_STUDY.format(factory="raises"))

    result = invoke("run", "task.yaml")

    assert_refused_keeping(result, "factory-task", before, "field 'task.data.name'",
                           "data server is down")
