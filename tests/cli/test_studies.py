"""`tunelab studies` and `tunelab show`: a storage's studies, and one study's best trials."""

from __future__ import annotations

from pathlib import Path

import tunelab
from tests.cli.helpers import invoke


def test_studies_lists_counts_and_the_best_value(
    finished_study: list[tunelab.TrialRecord],
) -> None:
    result = invoke("studies")

    assert result.exit_code == 0, result.output
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("demo"))
    assert row[1:7] == ["min", "4", "2", "1", "1", "0"]
    best = min(r.value for r in finished_study if r.value is not None)
    assert row[7] == f"{best:.6g}"


def test_studies_of_an_empty_storage_says_how_to_make_one(workdir: Path) -> None:
    tunelab.create_study(name="gone", storage="sqlite:///tunelab.db")
    tunelab.delete_study("gone", "sqlite:///tunelab.db")

    result = invoke("studies")

    assert result.exit_code == 0, result.output
    assert "No studies in sqlite:///tunelab.db yet; `tunelab run STUDY_FILE` creates one." in \
        result.stdout


def test_show_counts_every_state_and_lists_the_best_trials(
    finished_study: list[tunelab.TrialRecord],
) -> None:
    result = invoke("show", "demo", "--top", "1")

    assert result.exit_code == 0, result.output
    assert "Trials: 4 in all: 2 complete, 1 pruned, 1 fail, 0 running, 0 waiting" in result.stdout
    assert "Objectives: minimize value" in result.stdout
    best = min((r for r in finished_study if r.value is not None), key=lambda r: r.value)
    assert f"Best: value {best.value:.6g} at trial {best.number} (x=" in result.stdout
    assert "Best 1 trials" in result.stdout


def test_show_of_a_study_without_completed_trials_has_no_table(workdir: Path) -> None:
    study = tunelab.create_study(name="empty", storage="sqlite:///tunelab.db")
    study.ask()

    result = invoke("show", "empty")

    assert result.exit_code == 0, result.output
    assert "Best: no completed trial yet" in result.stdout
    assert "1 running" in result.stdout
    assert "Best 0 trials" not in result.stdout


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
