"""The ``tunelab`` command: run a study file (or the built-in quickstart) and look at the results.

Each group of commands lives in its own module and is merged here into one command line. The
modules import only what their options need; what a command needs to run (the study-file
schema, the doctor, the report, torch, Dask) is imported when it runs, so that `tunelab --help`
and `tunelab --version` answer at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tunelab import __version__
from tunelab.cli import dashboard, explain, export, imports, report, run, studies
from tunelab.cli.common import examples, out

app = typer.Typer(
    name="tunelab",
    help=(
        "Tune the hyperparameters of a training script: run studies, then inspect, report on, "
        "diagnose, explain, export or delete them.\n\n"
        "Start with [bold]tunelab run[/bold] (a built-in quickstart that tunes a small network on "
        "the digits data set), then [bold]tunelab run examples/quadratic.yaml[/bold] for a study "
        "file of your own.\n\n"
        "Add [bold]--debug[/bold] to any command to see the full traceback of an error."
    ),
    epilog=examples(
        "tunelab run                             # the quickstart: 30 trials",
        "tunelab run study.yaml --n-trials 100   # a study file, another budget",
        "tunelab studies                         # what ./tunelab.db holds",
        "tunelab show quadratic --top 10",
        "tunelab report quadratic -o report.html      # summary, figures, importance, doctor",
        "tunelab doctor quickstart-digits-mlp         # why trials train badly, and what to change",
        "tunelab explain quickstart-digits-mlp --trust-storage   # what the best model looks at",
        "tunelab export quadratic -o trials.csv",
        "tunelab dashboard                            # watch and steer studies in a browser",
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
for command_group in (run, studies, export, report, explain, imports, dashboard):
    app.add_typer(command_group.commands)


def main() -> None:
    """Entry point of the ``tunelab`` console script."""
    app()


def _version(value: bool) -> None:
    if value:
        out().print(f"tunelab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Holds the options that come before the command (the app's help is set on ``app``)."""
