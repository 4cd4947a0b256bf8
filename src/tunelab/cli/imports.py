"""`tunelab import-optuna`: studies that Optuna stored, brought into a tunelab storage."""

from __future__ import annotations

from typing import Annotated

import typer

import tunelab
from tunelab.cli import render
from tunelab.cli.common import DebugOption, StorageOption, examples, out, user_facing
from tunelab.storage import DEFAULT_STORAGE

commands = typer.Typer()


@commands.command(
    "import-optuna",
    epilog=examples(
        "tunelab import-optuna sqlite:///optuna.db              # every study, into ./tunelab.db",
        "tunelab import-optuna sqlite:///optuna.db --study search --as search-optuna",
        "tunelab import-optuna postgresql://me@host/optuna --storage sqlite:///runs.db "
        "--skip-existing",
    ),
)
@user_facing
def import_from_optuna(
    source: Annotated[
        str,
        typer.Argument(
            metavar="OPTUNA_STORAGE_URL",
            help="The storage Optuna wrote (read, never changed): sqlite:///optuna.db or "
            "postgresql://user:password@host/db.",
            show_default=False,
        ),
    ],
    study: Annotated[
        list[str] | None,
        typer.Option(
            "--study",
            metavar="NAME",
            help="Import this study; repeat for several. By default: every study there.",
            show_default=False,
        ),
    ] = None,
    new_name: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="NEW_NAME",
            help="The name the one study imported gets here (by default, its Optuna name).",
            show_default=False,
        ),
    ] = None,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Leave out the studies whose name the tunelab storage already has (by "
            "default, the import is refused and nothing is written).",
        ),
    ] = False,
    storage: StorageOption = DEFAULT_STORAGE,
    debug: DebugOption = False,
) -> None:
    """Import studies from an Optuna storage with every trial: states, values, parameters,
    intermediate values, attributes and times. All or nothing: if anything fails, no study is
    left half-imported."""
    from tunelab.storage import import_optuna

    imported = import_optuna(
        source, storage, study, new_name=new_name, skip_existing=skip_existing
    )
    if not imported:
        out().print(f"Nothing imported: {storage} already has every study asked for.")
        return
    summaries = [s for s in tunelab.list_studies(storage) if s.name in imported]
    out().print(f"Imported {len(imported)} {'study' if len(imported) == 1 else 'studies'}:")
    out().print(render.studies_table(storage, summaries))
