"""`tunelab explain` on the quickstart study: trust, the tables, the page of figures, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunelab
from tests.cli.helpers import invoke

pytest.importorskip("torch", reason="the quickstart is trained by tunelab.torch")
pytest.importorskip("captum", reason="attributions need the explain extra")
pytest.importorskip("plotly", reason="the page of figures needs the plots extra")

N_TRIALS = 2  # each quickstart trial trains a network for a few seconds
STUDY = "quickstart-digits-mlp"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where `tunelab run` ran the quickstart (its storage and saved weights)."""
    folder = tmp_path_factory.mktemp("quickstart")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        result = invoke("run", "--n-trials", str(N_TRIALS))
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def inside(quickstart: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(quickstart)
    return quickstart


def test_without_trust_it_says_what_it_would_use_and_uses_nothing(inside: Path) -> None:
    result = invoke("explain", STUDY)

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert message.startswith("error: tunelab explain rebuilds the study's model from what the "
                              "storage names")
    assert f"`tunelab explain {STUDY} --trust-storage`" in message
    assert result.stdout == ""


def test_it_ranks_the_features_of_the_best_trial(inside: Path) -> None:
    best = tunelab.load_study(STUDY, "sqlite:///tunelab.db").best_trial.number

    result = invoke("explain", STUDY, "--trust-storage", "--top", "5")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Trial {best} of study {STUDY}: attributions of 256 validation "
                               "samples by Integrated gradients, Saliency, GradientSHAP, Feature "
                               "ablation.")
    assert "Features by their share of the attribution (top 5 of 64)" in result.stdout
    rows = [line for line in lines if "pixel_" in line]
    assert len(rows) == 5
    assert [row.split("│")[1].strip() for row in rows] == ["1", "2", "3", "4", "5"]
    assert all("±" in row.split("│")[3] for row in rows)  # integrated gradients over baselines


def test_a_chosen_trial_and_a_page_of_figures(inside: Path) -> None:
    page = inside / "trial-0.html"

    result = invoke("explain", STUDY, "0", "--trust-storage", "-o", str(page))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Trial 0 of study {STUDY}")
    assert f"Wrote the figures to {page}" in " ".join(result.stdout.split())
    html = page.read_text(encoding="utf-8")
    assert 'id="figure-feature-attributions"' in html and "Attributions of trial 0" in html

    page.write_text("mine", encoding="utf-8")
    kept = invoke("explain", STUDY, "0", "--trust-storage", "-o", str(page))
    assert kept.exit_code == 2 and "already exists" in kept.stderr
    assert page.read_text(encoding="utf-8") == "mine"  # refused before anything was computed
    replaced = invoke("explain", STUDY, "0", "--trust-storage", "-o", str(page), "--force")
    assert replaced.exit_code == 0 and page.read_text(encoding="utf-8").startswith("<!DOCTYPE")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["99"], f"argument TRIAL: study '{STUDY}' has no trial 99 (it has trials 0 to "
                 f"{N_TRIALS - 1})"),
        (["--split", "test"], "split='test' but the task's data has no test part"),
        (["--split", "train"], "split='train' is unknown; use one of: val, test"),
    ],
    ids=["unknown trial", "no test part", "unknown split"],
)
def test_mistakes_exit_2_with_the_fix(inside: Path, arguments: list[str], expected: str) -> None:
    result = invoke("explain", STUDY, *arguments, "--trust-storage")

    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.split())
