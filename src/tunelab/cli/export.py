"""`tunelab export` and `tunelab delete`: a study's trials taken out of the storage, as a copy
or for good."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

import tunelab
from tunelab.cli import render
from tunelab.cli.common import (
    EXIT_UNEXPECTED,
    DebugOption,
    ForceOption,
    StorageOption,
    StudyArgument,
    err,
    examples,
    existing_storage,
    out,
    user_facing,
    write_output,
)
from tunelab.storage import DEFAULT_STORAGE

commands = typer.Typer()


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"


@commands.command(
    epilog=examples(
        "tunelab export quadratic -o trials.csv",
        "tunelab export quadratic --format json > trials.json",
        "tunelab export quadratic -o trials.csv --force   # replaces trials.csv",
    )
)
@user_facing
def export(
    study: StudyArgument,
    format: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="csv or json; by default, from the output file's suffix, else csv.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file instead of the standard output; an existing file is "
            "kept unless --force is given.",
            show_default=False,
        ),
    ] = None,
    force: ForceOption = False,
    storage: StorageOption = DEFAULT_STORAGE,
    debug: DebugOption = False,
) -> None:
    """Export every trial of a study, one row each: number, state, values, params, times."""
    from tunelab.dataframe import trial_rows

    loaded = tunelab.load_study(study, existing_storage(storage))
    rows = trial_rows(loaded)
    chosen = format or (
        ExportFormat.json if output and output.suffix.lower() == ".json" else ExportFormat.csv
    )
    as_text = render.rows_json if chosen is ExportFormat.json else render.rows_csv
    if output is None:
        typer.echo(as_text(rows), nl=False)
        return
    write_output(output, lambda: as_text(rows), force=force, storage=loaded.storage)
    err().print(f"Wrote {len(rows)} trials of study {study!r} to {output} ({chosen.value}).")


@commands.command(epilog=examples("tunelab delete quadratic", "tunelab delete quadratic --yes"))
@user_facing
def delete(
    study: StudyArgument,
    storage: StorageOption = DEFAULT_STORAGE,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    debug: DebugOption = False,
) -> None:
    """Delete a study and all its trials (asks first, unless --yes)."""
    url = existing_storage(storage)
    n_trials = len(tunelab.load_study(study, url).trials)
    question = (
        f"Delete study {study!r} and its {n_trials} trials from {url}? This cannot be undone."
    )
    if not yes and not typer.confirm(question, default=False):
        err().print("Nothing deleted.")
        raise typer.Exit(EXIT_UNEXPECTED)
    tunelab.delete_study(study, url)
    out().print(f"Deleted study {study!r} and its {n_trials} trials from {url}.")
