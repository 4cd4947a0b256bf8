"""A storage someone else can write: what its records name is imported or read only when asked.

Each study here is what a hostile writer of the database could leave: a study-file record whose
task names a module that leaves a marker file when it is imported, and a data file of secret
text outside the folders the user works in. The commands that only look (report, doctor, show)
must import and read none of it; the report and `tunelab explain` rebuild the task only with
--trust-storage, and then, like `tunelab worker`, within --trusted-module and --data-root.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunelab
from tests.cli.helpers import invoke
from tests.report.page import ReportPage
from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.trial import TrialState

pytest.importorskip("plotly", reason="the report needs the plots extra")
pytest.importorskip("torch", reason="the stored tasks are tunelab.torch tasks")

pytestmark = pytest.mark.slow  # writes reports and rebuilds tasks

PLANTED = ("planted_objective", "planted_model", "planted_sampler", "planted_pruner")
SECRET = "root:x:0:0:SECRET-7f3a:/root:/bin/bash"
BODIES = {
    "planted_objective": "def objective(trial):\n    return trial.suggest_float('x', 0.0, 1.0)\n",
    "planted_model": (
        "import torch\n\n"
        "def build(input_shape, n_outputs):\n"
        "    return torch.nn.Linear(input_shape[0], n_outputs)\n"
    ),
    "planted_sampler": "class Sampler:\n    pass\n",
    "planted_pruner": "class Pruner:\n    pass\n",
}


class Lab:
    """The folders of one test: the study file's (with the planted modules), a private one
    (with the secret), the current directory, and a SQLite storage holding the studies."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "lab"
        self.private = root / "private"
        self.cwd = root / "elsewhere"
        for folder in (self.folder, self.private, self.cwd):
            folder.mkdir()
        self.study_file = self.folder / "study.yaml"
        self.study_file.write_text("# the file the studies were started from\n")
        self.secret = self.private / "secret.csv"
        self.secret.write_text(f"{SECRET}\nnobody:x:65534\n")
        self.storage = f"sqlite:///{root / 'shared.db'}"
        for name, body in BODIES.items():
            marker = self.marker(name)
            (self.folder / f"{name}.py").write_text(
                f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\n{body}"
            )

    def marker(self, module: str) -> Path:
        return self.root / f"{module}.imported"

    def imported(self) -> list[str]:
        """The planted modules that were imported, by their markers and this process."""
        return [m for m in PLANTED if self.marker(m).exists() or m in sys.modules]

    def plant_study(self, name: str, fields: dict[str, Any]) -> str:
        """A study with three completed trials and the study-file record ``fields``."""
        study = tunelab.create_study(name=name, storage=self.storage, sampler="random", seed=0)
        study.optimize(lambda trial: trial.suggest_float("lr", 1e-3, 1e-1), n_trials=3)
        record = {
            "fields": {"name": name, "storage": self.storage, "n_trials": 2, **fields},
            "path": str(self.study_file),
        }
        study.storage.set_study_system_attr(study.study_id, STUDY_FILE_ATTR, record)
        return name


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """A fresh lab, run from its own current directory; the import path and the imported
    planted modules are put back after, so that every test imports them afresh."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    laboratory = Lab(tmp_path)
    monkeypatch.chdir(laboratory.cwd)
    yield laboratory
    for module in PLANTED:
        sys.modules.pop(module, None)


def model_task() -> dict[str, Any]:
    return {
        "direction": "maximize",
        "task": {
            "data": {"name": "digits", "test_fraction": 0.2},
            "model": {"name": "planted_model:build"},
            "recipe": {"epochs": 1, "device": "cpu"},
        },
    }


def data_task(secret: Path) -> dict[str, Any]:
    return {
        "direction": "maximize",
        "task": {"data": {"name": "csv", "path": str(secret), "target": "label"}, "model": "mlp"},
    }


def everything_planted(lab: Lab) -> dict[str, Any]:
    """A record naming every planted module and the secret: no look-only command may use any."""
    return {
        "sampler": {"name": "planted_sampler:Sampler"},
        "pruner": {"name": "patience", "patience": 2, "wrapped": "planted_pruner:Pruner"},
        "task": {**model_task()["task"], "data": data_task(lab.secret)["task"]["data"]},
    }


def report_html(lab: Lab, study: str, *options: str) -> tuple[Any, str]:
    output = lab.root / "report.html"
    result = invoke("report", study, "-s", lab.storage, "-o", str(output), *options)
    return result, output.read_text(encoding="utf-8") if output.exists() else ""


# The commands that only look ------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["report", "planted", "-o", "{output}"], ["doctor", "planted"], ["doctor", "planted", "0"],
     ["show", "planted"]],
    ids=["report", "doctor", "doctor of a trial", "show"],
)
def test_look_only_commands_import_and_read_nothing_the_storage_names(
    lab: Lab, command: list[str]
) -> None:
    lab.plant_study("planted", everything_planted(lab))
    output = lab.root / "report.html"

    result = invoke(*(part.format(output=output) for part in command), "-s", lab.storage)

    assert result.exit_code == 0, result.output
    assert lab.imported() == []
    assert "SECRET" not in result.output
    if command[0] == "report":
        html = output.read_text(encoding="utf-8")
        assert "SECRET" not in html
        assert "No ensemble: it is built from what the storage names" in html
        assert "run `tunelab report planted --trust-storage`" in ReportPage(html).text("ensemble")


def test_the_report_from_python_uses_nothing_the_storage_names_by_default(lab: Lab) -> None:
    from tunelab.report import render_report

    study = tunelab.load_study(lab.plant_study("planted", everything_planted(lab)), lab.storage)

    html = render_report(study)

    assert lab.imported() == []
    assert "SECRET" not in html
    assert "trust_storage=True" in ReportPage(html).text("ensemble")


# The report, when asked to trust the storage --------------------------------------------------


def test_a_trusted_report_imports_the_stored_model_module_it_allows(lab: Lab) -> None:
    study = lab.plant_study("model-study", model_task())

    result, html = report_html(lab, study, "--trust-storage", "--trusted-module", "planted_model")

    assert result.exit_code == 0, result.output
    assert lab.imported() == ["planted_model"]
    # The task was rebuilt; the planted trials saved no weights, which the section says.
    assert "saved weights" in ReportPage(html).text("ensemble")


def test_a_trusted_report_reads_the_stored_data_file_under_a_data_root(lab: Lab) -> None:
    study = lab.plant_study("data-study", data_task(lab.secret))

    result, html = report_html(lab, study, "--trust-storage", "--data-root", str(lab.private))

    assert result.exit_code == 0, result.output
    assert SECRET in ReportPage(html).text("ensemble")  # read: the loader quotes its header


@pytest.mark.parametrize(
    ("planted", "options", "expected"),
    [
        ("model", ["--trusted-module", "my_lab"],
         ["field 'task.model' names code in the module 'planted_model', which is not among the "
          "trusted modules (my_lab)", "add --trusted-module planted_model"]),
        ("data", [],
         ["field 'task.data.path': '{secret}' lies outside the data roots ({lab}, {cwd})",
          "add --data-root {private}"]),
        ("everything", ["--trusted-module", "planted_model", "--data-root", "{private}"],
         ["field 'sampler' names code in the module 'planted_sampler'"]),
        ("everything",
         ["--trusted-module", "planted_model", "--trusted-module", "planted_sampler",
          "--data-root", "{private}"],
         ["field 'pruner' names code in the module 'planted_pruner'"]),
    ],
    ids=["model module", "data file by default", "sampler class", "wrapped pruner class"],
)
def test_a_trusted_report_refuses_what_is_not_allowed_before_using_any_of_it(
    lab: Lab, planted: str, options: list[str], expected: list[str]
) -> None:
    fields = {"model": model_task(), "data": data_task(lab.secret),
              "everything": everything_planted(lab)}[planted]
    study = lab.plant_study("refused", fields)
    folders = {"secret": lab.secret, "lab": lab.folder, "cwd": lab.cwd, "private": lab.private}

    result, html = report_html(lab, study, "--trust-storage",
                               *(option.format(**folders) for option in options))

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: study 'refused': ")
    message = " ".join(result.stderr.split())  # as one line, however the terminal wrapped it
    for fragment in expected:
        assert fragment.format(**folders) in message
    assert lab.imported() == []
    assert "SECRET" not in result.output
    assert html == ""


def test_the_allow_list_without_trust_storage_is_a_mistake(lab: Lab) -> None:
    study = lab.plant_study("model-study", model_task())

    result, html = report_html(lab, study, "--trusted-module", "planted_model")

    assert result.exit_code == 2
    assert "add --trust-storage to build the ensemble" in result.stderr
    assert lab.imported() == [] and html == ""


# `tunelab explain`, which cannot work without what the storage names --------------------------


def test_explain_without_trust_storage_imports_and_reads_nothing(lab: Lab) -> None:
    lab.plant_study("planted", everything_planted(lab))

    result = invoke("explain", "planted", "-s", lab.storage)

    assert result.exit_code == 2
    assert "run it again with --trust-storage" in " ".join(result.stderr.split())
    assert lab.imported() == [] and "SECRET" not in result.output


def test_explain_refuses_what_is_not_allowed_before_using_any_of_it(lab: Lab) -> None:
    lab.plant_study("refused", everything_planted(lab))

    result = invoke("explain", "refused", "-s", lab.storage, "--trust-storage",
                    "--trusted-module", "my_lab")

    assert result.exit_code == 2
    assert "field 'task.model' names code in the module 'planted_model', which is not among " \
           "the trusted modules (my_lab)" in " ".join(result.stderr.split())
    assert lab.imported() == [] and "SECRET" not in result.output


# The worker -----------------------------------------------------------------------------------


def objective_study(lab: Lab) -> str:
    return lab.plant_study(
        "objective-study", {"objective": "planted_objective:objective", "direction": "minimize"}
    )


def completed(lab: Lab, study: str) -> int:
    return len(tunelab.load_study(study, lab.storage).get_trials((TrialState.COMPLETE,)))


def test_a_worker_refuses_an_objective_outside_the_trusted_modules(lab: Lab) -> None:
    study = objective_study(lab)

    result = invoke("worker", "-s", lab.storage, "--study", study, "--trusted-module", "my_lab")

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert f"study {study!r} in {lab.storage}: field 'objective' names code in the module " \
           "'planted_objective', which is not among the trusted modules (my_lab)" in message
    assert "add --trusted-module planted_objective" in message
    assert lab.imported() == []
    assert completed(lab, study) == 3  # the planted trials only


def test_a_worker_runs_an_objective_it_is_allowed_to_import(lab: Lab) -> None:
    study = objective_study(lab)

    result = invoke("worker", "-s", lab.storage, "--study", study,
                    "--trusted-module", "planted_objective")

    assert result.exit_code == 0, result.output
    assert lab.imported() == ["planted_objective"]
    assert completed(lab, study) == 3 + 2  # the stored budget


def test_a_worker_refuses_a_data_file_outside_the_data_roots(lab: Lab) -> None:
    study = lab.plant_study("data-study", data_task(lab.secret))

    result = invoke("worker", "-s", lab.storage, "--study", study)

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert f"field 'task.data.path': '{lab.secret}' lies outside the data roots" in message
    assert f"add --data-root {lab.private}" in message
    assert "SECRET" not in result.output
    assert completed(lab, study) == 3


# Text from the storage in the report ----------------------------------------------------------


HOSTILE_CHOICE = "<img src=x onerror=alert('choice')>"
HOSTILE_FAILURE = "</section><script>alert('failure')</script>"
HOSTILE_OBJECTIVE = "<svg onload=alert('objective')>:x"


def hostile_objective(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    if trial.suggest_categorical("kind", [HOSTILE_CHOICE, "plain"]) == "plain":
        raise ValueError(HOSTILE_FAILURE)
    return x


@pytest.mark.parametrize("trust", [[], ["--trust-storage"]], ids=["default", "trusting"])
def test_hostile_text_in_the_storage_stays_text_in_the_report(
    lab: Lab, trust: list[str]
) -> None:
    study = tunelab.create_study(name="plain", storage=lab.storage, sampler="random", seed=0)
    study.optimize(hostile_objective, n_trials=8)
    record = {"fields": {"name": "plain", "objective": HOSTILE_OBJECTIVE}, "path": None}
    study.storage.set_study_system_attr(study.study_id, STUDY_FILE_ATTR, record)

    result, html = report_html(lab, "plain", *trust)

    assert result.exit_code == 0, result.output
    for hostile in (HOSTILE_CHOICE, HOSTILE_FAILURE, HOSTILE_OBJECTIVE):
        assert hostile not in html
        assert json.dumps(hostile)[1:-1] not in html  # nor as a string in the figures' data
    page = ReportPage(html)
    assert page.external == []  # the <img src=x> stayed text
    assert HOSTILE_FAILURE in page.text("doctor")
    if trust:
        assert f"optimizes the objective {HOSTILE_OBJECTIVE!r}" in page.text("ensemble")


def test_a_hostile_study_name_in_the_storage_is_refused_before_any_page_is_made(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(lab.root)  # where the report would go by default
    tunelab.create_study(name="plain", storage=lab.storage)
    with sqlite3.connect(lab.storage.removeprefix("sqlite:///")) as database:  # no API allows it
        database.execute("UPDATE tunelab_studies SET name = ?", ('<script>alert("n")</script>',))

    result = invoke("report", '<script>alert("n")</script>', "-s", lab.storage)

    assert result.exit_code == 2
    assert "does not hold a usable name" in " ".join(result.stderr.split())
    assert not list(lab.root.glob("*.html"))
