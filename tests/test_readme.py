"""The README's examples are what a newcomer copies first: they must stay true."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import python_env

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README, flags=re.M | re.S)


def test_the_study_file_shown_is_the_example_file():
    assert blocks("yaml")[0] == (ROOT / "examples" / "quadratic.yaml").read_text(encoding="utf-8")


def test_the_first_python_example_can_be_run_twice(tmp_path):
    script = tmp_path / "first.py"
    script.write_text(blocks("python")[0] + "print(len(study.trials))\n", encoding="utf-8")
    counts = []
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        counts.append(int(run.stdout.split()[-1]))
    assert counts == [50, 100]


def test_the_set_up_commands_come_first():
    assert "make demo" in README[:400] and "make test" in README[:400]


def block_with(language: str, marker: str) -> str:
    return next(block for block in blocks(language) if marker in block)


@pytest.mark.slow
def test_the_own_loop_example_runs_and_its_study_gets_a_doctor_and_a_report(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("plotly")
    script = tmp_path / "own_loop.py"
    script.write_text(block_with("python", "tunelab.torch.watch"), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    tunelab_cli = str(Path(sys.executable).with_name("tunelab"))
    outputs = {}
    for command in ("doctor", "report"):
        done = subprocess.run([tunelab_cli, command, "own-loop"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outputs[command] = done.stdout
    assert "no training telemetry" not in outputs["doctor"]
    assert (tmp_path / "own-loop-report.html").is_file()


def test_the_scikit_learn_example_runs(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(block_with("python", "TuneSearchCV"), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert "'alpha'" in run.stdout and "COMPLETE" in run.stdout


@pytest.mark.parametrize(
    ("framework", "integration"),
    [("pytorch_lightning", "tunelab.integrations.lightning"),
     ("keras", "tunelab.integrations.keras")],
)
def test_the_framework_examples_run(framework, integration, tmp_path):
    if importlib.util.find_spec(framework) is None:  # not imported here: Keras would pick
        pytest.skip(f"{framework} is not installed")  # its backend for the whole session
    script = tmp_path / "framework.py"
    script.write_text(block_with("python", integration), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        env=python_env(OMP_NUM_THREADS="1"),  # a small model, steady on shared cores
    )
    assert run.returncode == 0, run.stderr
    assert "'lr':" in run.stdout and "'width':" in run.stdout
