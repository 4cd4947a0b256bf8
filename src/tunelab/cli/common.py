"""What every command shares: its consoles, options, exit codes, error handling and checks.

A user's mistake (a bad study file, an unknown study, a missing storage file) prints one red
paragraph and exits with code 2; tracebacks are shown only with ``--debug``, because a
traceback points at tunelab's code while the fix is in the user's file.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from tunelab.exceptions import StorageError, TunelabError
from tunelab.storage import BaseStorage, check_storage_url
from tunelab.storage.files import OutputOption, sqlite_file, write_text_file

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import TrialRecord

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130

StorageOption = Annotated[
    str,
    typer.Option(
        "--storage",
        "-s",
        help="Where the studies are: sqlite:///file.db (relative to the current directory) or "
        "postgresql://user:password@host/db.",
    ),
]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show the full traceback when something goes wrong.")
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace the output file if it exists (never the storage the study is read from).",
    ),
]
StudyArgument = Annotated[
    str,
    typer.Argument(
        help="The study's name, as `tunelab studies` lists it.", metavar="STUDY", show_default=False
    ),
]
TrustedModulesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trusted-module",
        metavar="MODULE",
        help="Import code the stored study names only from this module or package (and "
        "tunelab); repeat for several. By default: whatever modules the study names.",
        show_default=False,
    ),
]
DataRootsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--data-root",
        metavar="FOLDER",
        help="Read and write the files the stored study names (data, weights, artifacts) only "
        "under this folder; repeat for several. By default: the folder of the study file the "
        "study was started from, and the current directory.",
        show_default=False,
    ),
]

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_OPTION = OutputOption("option --output", "output", "--force")


def out() -> Console:
    """A console on the standard output, made when a command prints so that it reads the
    terminal's width then (a console made at import keeps the width it saw at import)."""
    return Console(highlight=False, markup=False)


def err() -> Console:
    """A console on the standard error, made when a command prints, as :func:`out` is."""
    return Console(stderr=True, highlight=False, markup=False)


def examples(*lines: str) -> str:
    """A help epilog that lists example command lines."""
    return "[bold]Examples[/bold]\n" + "\n".join(f"  {line}" for line in lines)


def user_facing(command: F) -> F:
    """Turn errors into one readable paragraph and the exit codes the command line promises.

    tunelab errors (the user's to fix) exit 2; anything else is a bug and exits 1. ``--debug``
    adds the traceback to either.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except TunelabError as error:
            _print_error(str(error), debug, has_cause=error.__cause__ is not None)
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            err().print("Interrupted.", style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:
            message = f"unexpected {type(error).__name__}: {error}".replace("\n", " ")
            _print_error(message, debug, has_cause=True)
            raise typer.Exit(EXIT_UNEXPECTED) from None

    return wrapper  # type: ignore[return-value]


def _print_error(message: str, debug: bool, has_cause: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    elif has_cause:
        message += " Rerun with --debug to see the traceback."
    err().print(Text("error: ", style="bold red") + Text(message, style="red"), soft_wrap=True)


def existing_storage(url: str) -> str:
    """``url`` if it is valid and, for SQLite, its file exists: commands that only read must
    not create one, so that a mistyped path says so rather than leave an empty database."""
    try:
        check_storage_url(url)
    except StorageError as error:
        raise StorageError(f"option --storage: {error}.") from None
    database = sqlite_file(url)
    if database is not None and not database.exists():
        raise StorageError(
            f"option --storage: there is no storage file {str(database)!r} ({url}, looked in "
            f"{database.resolve().parent}). `tunelab run STUDY_FILE` creates it with a study; "
            "or pass --storage with the URL of an existing database."
        )
    return url


def write_output(
    path: Path, render: Callable[[], str], *, force: bool, storage: BaseStorage
) -> None:
    """Write what ``render`` makes to the file of a command's ``--output`` option: never over
    the ``storage`` it read, over another existing file only with ``--force``, and atomically
    (see :func:`tunelab.storage.files.write_text_file`)."""
    write_text_file(
        path, render, OUTPUT_OPTION, overwrite=force, storage_files=storage.files()
    )


def trial_numbered(study: Study, number: int) -> TrialRecord:
    """The trial of ``study`` numbered ``number`` (the command's TRIAL argument)."""
    records = study.trials
    for record in records:
        if record.number == number:
            return record
    held = f"trials 0 to {records[-1].number}" if records else "no trials yet"
    raise TunelabError(
        f"argument TRIAL: study {study.study_name!r} has no trial {number} (it has {held}); "
        f"give one of its trial numbers, as `tunelab show {study.study_name}` lists them."
    )
