"""`tunelab studies` and `tunelab show`: what a storage holds, and one study in it."""

from __future__ import annotations

from typing import Annotated

import typer

import tunelab
from tunelab.cli import render
from tunelab.cli.common import (
    DebugOption,
    StorageOption,
    StudyArgument,
    examples,
    existing_storage,
    out,
    user_facing,
)
from tunelab.storage import DEFAULT_STORAGE

commands = typer.Typer()


@commands.command(epilog=examples("tunelab studies", "tunelab studies --storage sqlite:///runs.db"))
@user_facing
def studies(storage: StorageOption = DEFAULT_STORAGE, debug: DebugOption = False) -> None:
    """List the studies in a storage, with their trial counts and best values."""
    url = existing_storage(storage)
    summaries = tunelab.list_studies(url)
    if not summaries:
        out().print(f"No studies in {url} yet; `tunelab run STUDY_FILE` creates one.")
        return
    out().print(render.studies_table(url, summaries))


@commands.command(epilog=examples("tunelab show quadratic", "tunelab show quadratic --top 3"))
@user_facing
def show(
    study: StudyArgument,
    storage: StorageOption = DEFAULT_STORAGE,
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many best trials to list.")
    ] = 10,
    debug: DebugOption = False,
) -> None:
    """Summarise a study and list its best trials (for several objectives: the Pareto front)."""
    loaded = tunelab.load_study(study, existing_storage(storage))
    console = out()
    for line in render.study_overview(loaded, storage, top):
        console.print(line)
