"""`tunelab import-optuna`: the studies Optuna stored, imported into ./tunelab.db and then listed,
shown and reported on like any other; each bad input one red paragraph and exit code 2."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import tunelab
from tests.cli.helpers import invoke, stored_trials
from tests.storage.optuna_studies import MIXED, N_MIXED, N_PARETO, PARETO, shared_optuna_sqlite


@pytest.fixture(scope="module")
def optuna_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return shared_optuna_sqlite(tmp_path_factory)


def assert_one_paragraph_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0
    for fragment in fragments:
        assert fragment in result.stderr


def test_every_study_is_imported_then_listed_shown_and_reported(workdir, optuna_url):
    result = invoke("import-optuna", optuna_url)
    assert result.exit_code == 0, result.output
    assert "Imported 2 studies" in result.stdout and "sqlite:///tunelab.db" in result.stdout
    assert len(stored_trials(MIXED)) == N_MIXED + 2 and len(stored_trials(PARETO)) == N_PARETO

    listed = invoke("studies")
    assert listed.exit_code == 0 and MIXED in listed.stdout and PARETO in listed.stdout
    shown = invoke("show", MIXED)
    assert shown.exit_code == 0 and f"Trials: {N_MIXED + 2} in all" in shown.stdout

    report = invoke("report", MIXED, "-o", "mixed.html")
    assert report.exit_code == 0, report.output
    html = (workdir / "mixed.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and MIXED in html


def test_one_study_is_imported_under_a_new_name_into_another_storage(workdir, optuna_url):
    result = invoke("import-optuna", optuna_url, "--study", PARETO, "--as", "front",
                    "--storage", "sqlite:///runs.db")
    assert result.exit_code == 0, result.output
    assert [s.name for s in tunelab.list_studies("sqlite:///runs.db")] == ["front"]
    assert tunelab.load_study("front", "sqlite:///runs.db").metric_names is not None


def test_a_study_already_there_is_refused_unless_skipped(workdir, optuna_url):
    assert invoke("import-optuna", optuna_url, "--study", PARETO).exit_code == 0
    assert_one_paragraph_error(
        invoke("import-optuna", optuna_url), "already has a study 'pareto'", "--as NEW_NAME",
        "--skip-existing",
    )
    assert [s.name for s in tunelab.list_studies("sqlite:///tunelab.db")] == [PARETO]
    skipped = invoke("import-optuna", optuna_url, "--skip-existing")
    assert skipped.exit_code == 0, skipped.output
    assert {s.name for s in tunelab.list_studies("sqlite:///tunelab.db")} == {MIXED, PARETO}


def test_a_storage_that_is_not_optuna_s_is_refused(workdir):
    tunelab.create_study("demo", storage="sqlite:///mine.db")
    assert_one_paragraph_error(
        invoke("import-optuna", "sqlite:///mine.db"),
        "sqlite:///mine.db is not an Optuna storage: it is a tunelab storage",
    )
    assert_one_paragraph_error(
        invoke("import-optuna", "optuna.db"), "'optuna.db' is not a storage URL"
    )


def test_an_unknown_study_is_refused(workdir, optuna_url):
    assert_one_paragraph_error(
        invoke("import-optuna", optuna_url, "--study", "paretto"),
        "has no study 'paretto' (did you mean 'pareto'?)",
    )
    assert not (workdir / "tunelab.db").exists()


def test_an_unsupported_schema_version_is_refused(workdir, optuna_url):
    old = Path(shutil.copy(optuna_url.removeprefix("sqlite:///"), workdir / "old.db"))
    with sqlite3.connect(old) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'v2.4.0.a'")
    assert_one_paragraph_error(
        invoke("import-optuna", "sqlite:///old.db"),
        "has the schema version 'v2.4.0.a', which tunelab cannot read",
        "optuna storage upgrade --storage sqlite:///old.db",
    )
