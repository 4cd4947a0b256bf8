"""`tunelab report` and `tunelab doctor`: output, files and exit codes, run in-process.

Two real studies, made once per module in a SQLite file: one that `tunelab run` trained from a
study file with a task (so that the report, trusting the storage, can rebuild the task for its
ensemble), and one of a plain objective whose trials are partly pruned and failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import tunelab
from tests.cli.helpers import invoke
from tunelab.trial import TrialState

pytest.importorskip("plotly", reason="the report needs the plots extra")
pytest.importorskip("torch", reason="the task study is trained by tunelab.torch")

TASK_STUDY = "cli-digits"
OBJECTIVE_STUDY = "cli-mixed"
N_TASK_TRIALS = 4
N_OBJECTIVE_TRIALS = 8


def mixed_objective(trial: tunelab.Trial) -> float:
    """Every fourth trial (from 1) is pruned, every fourth (from 2) fails."""
    x = trial.suggest_float("x", -5.0, 5.0)
    if trial.number % 4 == 1:
        raise tunelab.TrialPruned()
    if trial.number % 4 == 2:
        raise ValueError("bad luck")
    return (x - 1.0) ** 2


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A storage with both studies; the task study run by `tunelab run` itself."""
    folder = tmp_path_factory.mktemp("cli-report")
    url = f"sqlite:///{folder / 'tunelab.db'}"
    study_file = folder / "digits.yaml"
    study_file.write_text(yaml.safe_dump({
        "name": TASK_STUDY,
        "storage": url,
        "sampler": "random",
        "seed": 0,
        "n_trials": N_TASK_TRIALS,
        "task": {
            "data": {"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0},
            "model": {"name": "mlp", "depth": 1},
            "recipe": {"epochs": 3, "device": "cpu", "seed": 0},
            "search": {
                "lr": {"low": 0.01, "high": 0.3, "log": True},
                "model.width": {"low": 8, "high": 32, "log": True},
            },
            "artifacts": str(folder / "artifacts"),
            "threads": 1,
        },
    }))
    result = invoke("run", str(study_file))
    assert result.exit_code == 0, result.output
    mixed = tunelab.create_study(name=OBJECTIVE_STUDY, storage=url, sampler="random", seed=0)
    mixed.optimize(mixed_objective, n_trials=N_OBJECTIVE_TRIALS)
    return url


def best_numbers(name: str, storage: str, k: int) -> str:
    study = tunelab.load_study(name, storage)
    completed = sorted(study.get_trials((TrialState.COMPLETE,)), key=lambda r: r.values[0],
                       reverse=study.direction == "maximize")
    return ", ".join(str(r.number) for r in completed[:k])


# report ----------------------------------------------------------------------------------------


def test_report_writes_the_html_here_and_prints_its_path(
    storage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke("report", TASK_STUDY, "--storage", storage, "--trust-storage")

    written = tmp_path / f"{TASK_STUDY}-report.html"
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Wrote the report of study {TASK_STUDY!r} to {written}; open it in a browser.\n"
    )
    html = written.read_text(encoding="utf-8")
    for section in ("summary", "best-trials", "figures", "importance", "doctor", "ensemble"):
        assert f'<section id="{section}">' in html
    # The task was rebuilt from the study file that `tunelab run` stored with the study.
    assert "greedy ensemble selection" in html and "Test accuracy" in html


def test_report_ensemble_options(storage: str, tmp_path: Path) -> None:
    output = tmp_path / "stacked.html"

    result = invoke("report", TASK_STUDY, "-o", str(output), "-s", storage, "--trust-storage",
                    "--ensemble-method", "stack", "--bagging", "2")

    assert result.exit_code == 0, result.output
    html = output.read_text(encoding="utf-8")
    assert "stacking: a regularized linear model over the members" in html
    assert "retrained on 2 bootstrap resamples" in html


def test_report_output_and_top_options(storage: str, tmp_path: Path) -> None:
    output = tmp_path / "mixed.html"

    result = invoke("report", OBJECTIVE_STUDY, "-o", str(output), "-s", storage, "--top", "1")

    assert result.exit_code == 0, result.output
    assert str(output) in result.stdout
    html = output.read_text(encoding="utf-8")
    assert "The 1 completed trial(s) with the lowest value, of" in html
    assert "No ensemble: it is built from what the storage names" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nope"], "no study named 'nope'"),
        (["report", OBJECTIVE_STUDY, "-o", "missing-folder/r.html"],
         "option --output: cannot write missing-folder/r.html (No such file or directory); "
         "choose another path."),
        (["report", OBJECTIVE_STUDY, "--ensemble-method", "stak"],
         "ensemble_method='stak' is unknown (did you mean 'stack'?); use one of: average, vote, "
         "greedy, stack."),
    ],
)
def test_report_user_errors_exit_2(
    storage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke(*args, "--storage", storage)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# doctor ----------------------------------------------------------------------------------------


def test_doctor_prints_the_study_findings_and_the_best_trials(storage: str) -> None:
    result = invoke("doctor", OBJECTIVE_STUDY, "--storage", storage)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Study {OBJECTIVE_STUDY} (minimize value)"
    assert "The study as a whole" in lines[1]
    assert "Many trials failed" in result.stdout and "many_failed_trials" in result.stdout
    assert "ValueError: bad luck" in result.stdout
    best = best_numbers(OBJECTIVE_STUDY, storage, 3)
    assert f"The best 3 trial(s): {best}: not checked (no telemetry) for 3 of 3 trials." in \
        result.stdout


def test_doctor_never_calls_a_study_without_telemetry_healthy(storage: str) -> None:
    result = invoke("doctor", OBJECTIVE_STUDY, "--storage", storage, columns=400)

    assert result.exit_code == 0, result.output
    assert "no problems found" not in result.stdout.lower()
    assert (
        "The study as a whole: 8 finished trials, 1 finding; their training was not checked "
        "(no telemetry for 6 of 6 completed or pruned trials)."
    ) in result.stdout
    assert "Not checked: no training telemetry" in result.stdout
    assert "tunelab.torch.watch(trial, model)" in result.stdout


def test_doctor_top_chooses_how_many_best_trials(storage: str) -> None:
    result = invoke("doctor", TASK_STUDY, "--storage", storage, "--top", "1")

    assert result.exit_code == 0, result.output
    best = best_numbers(TASK_STUDY, storage, 1)
    assert f"The best 1 trial(s): {best}: 1 trial checked, " in result.stdout
    assert "no telemetry" not in result.stdout  # the task's Trainer recorded it


def test_doctor_of_one_failed_trial_without_telemetry(storage: str) -> None:
    result = invoke("doctor", OBJECTIVE_STUDY, "2", "--storage", storage, columns=400)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Trial 2 of study {OBJECTIVE_STUDY} (fail): x=")
    assert "It ended with: ValueError: bad luck" in result.stdout
    assert "Trial 2: not checked (no telemetry)." in result.stdout
    assert "no problems found" not in result.stdout
    assert "Trial 2 recorded no per-epoch telemetry, so its training" in result.stdout


def test_doctor_of_one_trained_trial(storage: str) -> None:
    study = tunelab.load_study(TASK_STUDY, storage)
    best = study.best_trial

    result = invoke("doctor", TASK_STUDY, str(best.number), "--storage", storage)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"Trial {best.number} of study {TASK_STUDY} (complete, {best.value:.6g}): lr="
    )
    assert "no training telemetry" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([OBJECTIVE_STUDY, "99"],
         f"argument TRIAL: study '{OBJECTIVE_STUDY}' has no trial 99 (it has trials 0 to "
         f"{N_OBJECTIVE_TRIALS - 1}); give one of its trial numbers, as `tunelab show "
         f"{OBJECTIVE_STUDY}` lists them."),
        (["nope"], "no study named 'nope'"),
        (["--", OBJECTIVE_STUDY, "-1"], "Invalid value for 'TRIAL'"),
    ],
)
def test_doctor_user_errors_exit_2(storage: str, args: list[str], message: str) -> None:
    result = invoke("doctor", "--storage", storage, *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
