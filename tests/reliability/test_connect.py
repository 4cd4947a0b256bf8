"""A storage that cannot be reached is reported at once, with what to fix: a PostgreSQL server
that never answered (wrong host or port, server down), a port that cannot exist, and a file that
is not a SQLite database. Waiting out reconnect_timeout is for a server that was there."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import invoke
from tunelab.exceptions import StorageError
from tunelab.storage.sql import CONNECT_TIMEOUT, SQLStorage

# Nothing listens on port 1: every attempt is refused at once.
CLOSED_PORT = "postgresql://tunelab:secret@127.0.0.1:1/tunelab"
HANG_GUARD = 30.0  # seconds: only against hanging; reconnect_timeout below is much longer


@pytest.fixture
def psycopg() -> Any:
    return pytest.importorskip("psycopg", reason="the PostgreSQL driver (extra 'distributed')")


class _NoWaiting:
    """The storage's clock, failing at its first wait before an attempt to reconnect."""

    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    @staticmethod
    def sleep(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s to reconnect to a server that never answered")


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tunelab.storage.sql.time", _NoWaiting)


def test_a_closed_port_is_reported_at_once_naming_host_and_port(
    psycopg: Any, no_waiting: None, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="tunelab"), pytest.raises(StorageError) as caught:
        SQLStorage(f"{CLOSED_PORT}?reconnect_timeout=600")

    assert time.monotonic() - started < HANG_GUARD
    assert caplog.records == []  # not "lost the connection ...; reconnecting"
    message = str(caught.value)
    assert message.startswith("cannot connect to the database server at 127.0.0.1:1 (storage ")
    assert "Connection refused" in message
    assert "Check the host and port in the storage URL" in message
    assert "secret" not in message


def test_the_command_line_reports_a_closed_port_with_exit_2(psycopg: Any, tmp_path: Path) -> None:
    result = invoke("studies", "--storage", CLOSED_PORT)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot connect to the database server at 127.0.0.1:1")
    assert "secret" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("query", "timeout"), [("", CONNECT_TIMEOUT), ("?connect_timeout=2", "2")]
)
def test_a_server_that_does_not_answer_is_given_a_short_connect_timeout(
    psycopg: Any, monkeypatch: pytest.MonkeyPatch, no_waiting: None, query: str, timeout: Any
) -> None:
    asked: list[dict[str, Any]] = []

    def silent_host(*args: Any, **options: Any) -> None:
        asked.append(options)
        raise psycopg.OperationalError("connection failed: timeout expired")

    monkeypatch.setattr(psycopg, "connect", silent_host)

    with pytest.raises(StorageError, match=r"at 10\.1\.2\.3:6543 .*timeout expired"):
        SQLStorage(f"postgresql://tunelab@10.1.2.3:6543/tunelab{query}")

    assert [options["connect_timeout"] for options in asked] == [timeout]  # one attempt


@pytest.mark.parametrize("port", [99999, 0])
def test_a_port_that_cannot_exist_is_a_storage_error_before_any_connection(port: int) -> None:
    with pytest.raises(StorageError) as caught:
        SQLStorage(f"postgresql://tunelab:secret@127.0.0.1:{port}/tunelab")

    message = str(caught.value)
    assert f"names port {port}, which no server can listen on" in message
    assert "from 1 to 65535" in message and "secret" not in message


def test_the_command_line_names_the_option_of_a_bad_port() -> None:
    result = invoke("studies", "--storage", "postgresql://tunelab@127.0.0.1:99999/tunelab")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: option --storage: 'postgresql://tunelab@127.0.0.1")
    assert "names port 99999" in result.stderr


@pytest.mark.parametrize("command", [["studies"], ["show", "demo"], ["export", "demo"]])
def test_a_text_file_given_as_sqlite_database_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping: milk, eggs, a faster GPU\n")

    result = invoke(*command, "--storage", "sqlite:///notes.txt")

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        "error: cannot open storage 'sqlite:///notes.txt': the file 'notes.txt' is not a "
        "SQLite database (file is not a database)."
    )
    assert "Traceback" not in result.output
    assert notes.read_text() == "shopping: milk, eggs, a faster GPU\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
