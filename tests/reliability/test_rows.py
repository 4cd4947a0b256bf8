"""Rows that anything but tunelab changed in a SQL storage are named where they are read: a
listing leaves the row out with one warning naming study, trial and column, and reading that row
alone is a StorageError saying the same. A study name read back passes the rule new names pass
before it is listed or becomes a file name."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

import tunelab
from tests.cli.helpers import invoke, python_env
from tunelab.exceptions import StorageError
from tunelab.storage.sql import SQLStorage

BACKENDS = pytest.mark.parametrize("storage_url", ["sqlite", "postgresql"], indirect=True)
STUDY, OTHER = "rows", "other"
OF_STUDY = f"(SELECT study_id FROM tunelab_studies WHERE name = '{STUDY}')"
TRIAL_1 = f"number = 1 AND study_id = {OF_STUDY}"


@dataclass(frozen=True)
class Corruption:
    id: str
    statement: str  # changes trial 1 of study 'rows', or the study's own row
    column: str  # as the messages name it
    sqlite_only: bool = False  # PostgreSQL's column types refuse such a value


TRIAL_ROWS = [
    Corruption("state", f"UPDATE tunelab_trials SET state = 'BOGUS' WHERE {TRIAL_1}", "state"),
    Corruption("params", f"UPDATE tunelab_trials SET params = '{{not json' WHERE {TRIAL_1}",
               "params"),
    Corruption("params-nested",
               f"""UPDATE tunelab_trials SET params = '{{"x": [1, 2]}}' WHERE {TRIAL_1}""",
               "params"),
    Corruption("distributions",
               f"""UPDATE tunelab_trials SET distributions = '{{"x": {{"type": "wavy"}}}}'
                   WHERE {TRIAL_1}""", "distributions"),
    Corruption("distributions-json",
               f"UPDATE tunelab_trials SET distributions = 'x' WHERE {TRIAL_1}", "distributions"),
    Corruption("user_attrs", f"UPDATE tunelab_trials SET user_attrs = '[1]' WHERE {TRIAL_1}",
               "user_attrs"),
    Corruption("system_attrs",
               f"UPDATE tunelab_trials SET system_attrs = '{{' WHERE {TRIAL_1}", "system_attrs"),
    Corruption("values",
               f"""UPDATE tunelab_trials SET objective_values = '["abc"]' WHERE {TRIAL_1}""",
               "objective_values"),
    Corruption("values-json",
               f"UPDATE tunelab_trials SET objective_values = '1,5' WHERE {TRIAL_1}",
               "objective_values"),
    Corruption("datetime",
               f"UPDATE tunelab_trials SET datetime_start = 'yesterday' WHERE {TRIAL_1}",
               "datetime_start", sqlite_only=True),
    Corruption("intermediate",
               f"""UPDATE tunelab_intermediate_values SET value = 'high'
                   WHERE trial_id = (SELECT trial_id FROM tunelab_trials WHERE {TRIAL_1})""",
               "value of tunelab_intermediate_values", sqlite_only=True),
]
STUDY_ROWS = [
    Corruption("name",
               f"UPDATE tunelab_studies SET name = '../../escaped' WHERE name = '{STUDY}'",
               "name"),
    Corruption("directions",
               f"UPDATE tunelab_studies SET directions = '[\"upward\"]' WHERE name = '{STUDY}'",
               "directions"),
    Corruption("study-attrs",
               f"UPDATE tunelab_studies SET system_attrs = 'nope' WHERE name = '{STUDY}'",
               "system_attrs"),
    Corruption("created",
               f"UPDATE tunelab_studies SET created_at = 'monday' WHERE name = '{STUDY}'",
               "created_at", sqlite_only=True),
]


def objective(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.report(x, step=0)
    trial.set_user_attr("seen", True)
    return x * x


@pytest.fixture
def stored(storage_url: str) -> str:
    """``storage_url`` holding study 'rows' (trials 0, 1, 2) and study 'other' (trial 0)."""
    for name, n_trials in ((STUDY, 3), (OTHER, 1)):
        study = tunelab.create_study(name=name, storage=storage_url, sampler="random", seed=0)
        study.optimize(objective, n_trials=n_trials)
        study.storage.close()
    return storage_url


def corrupt(url: str, case: Corruption) -> None:
    if case.sqlite_only and url.startswith("postgresql"):
        pytest.skip("PostgreSQL's column types refuse such a value")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        assert connection.execute(sa.text(case.statement)).rowcount == 1
    engine.dispose()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def trial_id_of(url: str, number: int) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        query = f"SELECT trial_id FROM tunelab_trials WHERE number = {number} AND study_id = "
        trial_id = connection.execute(sa.text(query + OF_STUDY)).scalar_one()
    engine.dispose()
    return int(trial_id)


# A bad trial row ------------------------------------------------------------------------------


@BACKENDS
@pytest.mark.parametrize("case", TRIAL_ROWS, ids=[c.id for c in TRIAL_ROWS])
def test_a_listing_leaves_a_bad_trial_row_out_with_one_warning(
    stored: str, case: Corruption, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt(stored, case)
    storage = SQLStorage(stored)
    study_id = storage.get_study(STUDY).study_id

    with caplog.at_level(logging.WARNING, logger="tunelab"):
        listed = [[r.number for r in storage.get_trials(study_id)] for _ in range(3)]

    assert listed == [[0, 2]] * 3
    [warning] = warnings(caplog)
    assert warning.startswith(f"trial 1 of study '{STUDY}' in ")
    assert f"cannot be read, left out: column {case.column} " in warning
    assert f"tunelab_trials.trial_id = {trial_id_of(stored, 1)})" in warning
    # A state nothing knows is not counted; the other columns are no business of the counts.
    studies = {s.name: s.n_trials for s in storage.list_studies()}
    assert studies == {STUDY: 2 if case.id == "state" else 3, OTHER: 1}
    storage.close()


@BACKENDS
@pytest.mark.parametrize("case", TRIAL_ROWS, ids=[c.id for c in TRIAL_ROWS])
def test_reading_the_bad_trial_itself_is_a_storage_error_naming_it(
    stored: str, case: Corruption
) -> None:
    corrupt(stored, case)
    storage = SQLStorage(stored)
    trial_id = trial_id_of(stored, 1)

    with pytest.raises(StorageError) as caught:
        storage.get_trial(trial_id)

    message = str(caught.value)
    assert message.startswith(f"trial 1 of study '{STUDY}' in ")
    assert f"cannot be read, so it cannot be loaded: column {case.column} " in message
    assert f"Correct or delete its row (tunelab_trials.trial_id = {trial_id})" in message
    assert storage.get_trial(trial_id_of(stored, 2)).number == 2  # its neighbours still can
    storage.close()


@BACKENDS
def test_a_trial_with_an_unknown_state_leaves_the_listing_of_studies_whole(
    stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt(stored, TRIAL_ROWS[0])

    with caplog.at_level(logging.WARNING, logger="tunelab"):
        result = invoke("studies", "--storage", stored)

    assert result.exit_code == 0, result.output
    assert STUDY in result.stdout and OTHER in result.stdout
    [warning] = warnings(caplog)
    assert warning.startswith(f"1 trial(s) of study '{STUDY}' in ")
    assert "left out of its counts: column state holds 'BOGUS', not a trial state" in warning


@BACKENDS
def test_show_lists_the_readable_trials_of_a_study_with_a_bad_row(
    stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt(stored, TRIAL_ROWS[1])

    with caplog.at_level(logging.WARNING, logger="tunelab"):
        result = invoke("show", STUDY, "--storage", stored)

    assert result.exit_code == 0, result.output
    assert "2 trials" in result.stdout
    [warning] = warnings(caplog)
    assert "trial 1 of study 'rows'" in warning and "column params holds '{not json'" in warning


def test_the_warning_reaches_the_terminal_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tunelab.db'}"
    study = tunelab.create_study(name=STUDY, storage=url, seed=0)
    study.optimize(objective, n_trials=2)  # trial 1 is the last: every listing reads it again
    corrupt(url, TRIAL_ROWS[1])

    shown = subprocess.run(
        [sys.executable, "-c", "from tunelab.cli import main; main()", "show", STUDY, "-s", url],
        env=python_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.count("trial 1 of study 'rows'") == 1
    assert "column params holds '{not json', which is not JSON text" in shown.stderr


# A bad study row -------------------------------------------------------------------------------


@BACKENDS
@pytest.mark.parametrize("case", STUDY_ROWS, ids=[c.id for c in STUDY_ROWS])
def test_a_bad_study_row_is_left_out_of_the_list_and_refused_by_name(
    stored: str, case: Corruption, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt(stored, case)
    storage = SQLStorage(stored)
    name = "../../escaped" if case.id == "name" else STUDY

    with caplog.at_level(logging.WARNING, logger="tunelab"):
        assert [s.name for s in storage.list_studies()] == [OTHER]
    with pytest.raises(StorageError) as caught:
        storage.get_study(name)

    [warning] = warnings(caplog)
    for message in (warning, str(caught.value)):
        assert message.startswith(f"study {name!r} in ")
        assert f"column {case.column} " in message and "tunelab_studies.study_id = " in message
    assert "so it cannot be loaded" in str(caught.value)
    storage.close()


def test_a_study_name_that_leads_elsewhere_never_becomes_a_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    url = f"sqlite:///{tmp_path / 'tunelab.db'}"
    tunelab.create_study(name=STUDY, storage=url).optimize(objective, n_trials=2)
    corrupt(url, STUDY_ROWS[0])

    listed = invoke("studies", "--storage", url)
    reported = invoke("report", "../../escaped", "--storage", url)

    assert listed.exit_code == 0 and "escaped" not in listed.stdout
    assert reported.exit_code == 2
    assert reported.stderr.startswith("error: study '../../escaped' in ")
    assert "column name does not hold a usable name" in reported.stderr
    assert list(tmp_path.rglob("*.html")) == []  # ../../escaped-report.html would be here


def test_a_best_value_that_is_not_a_number_is_not_shown(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    tunelab.create_study(name=STUDY, storage=sqlite_url).optimize(objective, n_trials=2)
    corrupt(sqlite_url, Corruption(
        "best", f"UPDATE tunelab_trials SET primary_value = 'low' WHERE {TRIAL_1}", ""
    ))
    storage = SQLStorage(sqlite_url)

    with caplog.at_level(logging.WARNING, logger="tunelab"):
        [summary] = storage.list_studies()

    assert summary.name == STUDY and summary.best_value is None and summary.n_trials == 2
    [warning] = warnings(caplog)
    assert "the best value of study 'rows'" in warning and "holds 'low', not a number" in warning
    storage.close()
