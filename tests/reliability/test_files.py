"""What `tunelab export -o`, `tunelab report` and write_report write: never the storage the
study is read from, another existing file only when asked, and whole files only."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

import tunelab
from tests.cli.helpers import invoke
from tunelab.exceptions import ConfigError

STUDY = "files"
STORAGE = "sqlite:///tunelab.db"
OLD = "what was there before\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory holding ./tunelab.db with study 'files' and its 6 trials."""
    monkeypatch.chdir(tmp_path)
    study = tunelab.create_study(name=STUDY, storage=STORAGE, sampler="random", seed=0)
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 1.0) ** 2, n_trials=6)
    study.storage.close()
    return tmp_path


def studies_in(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [name for (name,) in connection.execute("SELECT name FROM tunelab_studies")]


def leftovers(folder: Path) -> list[str]:
    """Temporary files that a write left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# Never over the storage ----------------------------------------------------------------------


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("export", "tunelab.db"),
        ("report", "tunelab.db"),
        ("export", "sub/../tunelab.db"),  # another spelling of the same file
        ("export", "tunelab.db-wal"),  # SQLite's companion files are the storage too
        ("report", "tunelab.db-shm"),
    ],
)
def test_no_output_is_written_over_the_storage_it_reads(
    workdir: Path, command: str, target: str, force: list[str]
) -> None:
    (workdir / "sub").mkdir()
    before = (workdir / "tunelab.db").read_bytes()

    result = invoke(command, STUDY, "-o", target, "--storage", STORAGE, *force)

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: option --output: {target} is ")
    assert "the storage" in result.stderr and "that the study was read from" in result.stderr
    assert "--force or not" in result.stderr and "Choose another path" in result.stderr
    assert (workdir / "tunelab.db").read_bytes() == before
    assert studies_in(workdir / "tunelab.db") == [STUDY]
    assert leftovers(workdir) == []


def test_a_link_to_the_storage_is_the_storage(workdir: Path) -> None:
    (workdir / "link.csv").symlink_to(workdir / "tunelab.db")

    result = invoke("export", STUDY, "-o", "link.csv", "--force")

    assert result.exit_code == 2
    assert "link.csv is the storage that the study was read from" in result.stderr
    assert studies_in(workdir / "tunelab.db") == [STUDY]


# An existing file only with --force -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["export", STUDY, "-o", "trials.csv"], "trials.csv"),
        (["report", STUDY, "-o", "page.html"], "page.html"),
        (["report", STUDY], f"{STUDY}-report.html"),  # the default name
    ],
)
def test_an_existing_file_is_kept_without_force(
    workdir: Path, args: list[str], written: str
) -> None:
    (workdir / written).write_text(OLD)

    result = invoke(*args)

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: option --output: {written} already exists; choose another path, or give "
        "--force to replace it.\n"
    )
    assert (workdir / written).read_text() == OLD


def test_export_with_force_replaces_the_file(workdir: Path) -> None:
    (workdir / "trials.csv").write_text(OLD)

    result = invoke("export", STUDY, "-o", "trials.csv", "--force")

    assert result.exit_code == 0, result.output
    rows = (workdir / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("number,") and len(rows) == 7
    assert leftovers(workdir) == []


def test_report_with_force_replaces_the_default_file(workdir: Path) -> None:
    (workdir / f"{STUDY}-report.html").write_text(OLD)

    result = invoke("report", STUDY, "--force")

    assert result.exit_code == 0, result.output
    assert "<title>tunelab report: files</title>" in (workdir / f"{STUDY}-report.html").read_text()
    assert leftovers(workdir) == []


# Whole files only ------------------------------------------------------------------------------


def test_a_write_that_fails_keeps_the_old_file_whole(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "trials.csv").write_text(OLD)

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("tunelab.storage.files.os.fsync", disk_full)

    result = invoke("export", STUDY, "-o", "trials.csv", "--force")

    assert result.exit_code == 2
    assert result.stderr == (
        "error: option --output: cannot write trials.csv (No space left on device); choose "
        "another path.\n"
    )
    assert (workdir / "trials.csv").read_text() == OLD
    assert leftovers(workdir) == []


def test_an_interrupted_report_leaves_the_old_file_and_nothing_else(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "page.html").write_text(OLD)

    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("tunelab.storage.files.os.fsync", interrupted)

    result = invoke("report", STUDY, "-o", "page.html", "--force")

    assert result.exit_code == 130
    assert (workdir / "page.html").read_text() == OLD
    assert leftovers(workdir) == []


# write_report from Python ---------------------------------------------------------------------


def test_write_report_keeps_an_existing_file_unless_overwrite(workdir: Path) -> None:
    from tunelab.report import write_report

    study = tunelab.load_study(STUDY, STORAGE)
    (workdir / "page.html").write_text(OLD)

    with pytest.raises(ConfigError, match="page.html already exists.*overwrite=True") as caught:
        write_report(study, "page.html")
    assert caught.value.field == "path"
    assert (workdir / "page.html").read_text() == OLD

    assert write_report(study, "page.html", overwrite=True) == Path("page.html")
    assert "<section id=\"summary\">" in (workdir / "page.html").read_text()


@pytest.mark.parametrize("overwrite", [False, True])
def test_write_report_never_writes_over_the_study_storage(workdir: Path, overwrite: bool) -> None:
    from tunelab.report import write_report

    study = tunelab.load_study(STUDY, STORAGE)

    with pytest.raises(ConfigError, match=r"write_report: path: .*tunelab.db is the storage"):
        write_report(study, workdir / "tunelab.db", overwrite=overwrite)
    assert studies_in(workdir / "tunelab.db") == [STUDY]
