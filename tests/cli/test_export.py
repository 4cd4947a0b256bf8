"""`tunelab export` and `tunelab delete`: a study's trials as CSV or JSON, and removed."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

import tunelab
from tests.cli.helpers import invoke, states, stored_trials


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


@pytest.mark.parametrize("name", ["trials.csv", "trials.txt"])
def test_export_to_a_file_not_named_json_writes_csv(
    finished_study: list[tunelab.TrialRecord], workdir: Path, name: str
) -> None:
    result = invoke("export", "demo", "-o", name)

    assert result.exit_code == 0, result.output
    assert f"to {name} (csv)" in result.stderr
    rows = list(csv.DictReader(io.StringIO((workdir / name).read_text())))
    assert [row["state"] for row in rows] == states(finished_study)


def test_export_to_an_unwritable_path_exits_2(
    finished_study: list[tunelab.TrialRecord], workdir: Path
) -> None:
    result = invoke("export", "demo", "-o", "missing-folder/trials.csv")

    assert result.exit_code == 2
    assert result.stderr == (
        "error: option --output: cannot write missing-folder/trials.csv (No such file or "
        "directory); choose another path.\n"
    )


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
