"""The ``tunelab`` command as a whole: its commands, --version, and what importing it loads."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import typer

import tunelab
from tests.cli.helpers import invoke, python_env
from tunelab.cli import app

COMMANDS = [
    "run",
    "worker",
    "studies",
    "show",
    "export",
    "delete",
    "report",
    "doctor",
    "explain",
    "import-optuna",
    "dashboard",
]

# What only some commands need: loading it for --version or --help would only slow them down.
LOADED_BY_COMMANDS = [
    "captum",
    "starlette",
    "uvicorn",
    "dask",
    "pandas",
    "plotly",
    "pydantic",
    "torch",
    "tunelab.analysis.doctor",
    "tunelab.analysis.explain",
    "tunelab.config",
    "tunelab.execution.dask",
    "tunelab.report",
    "yaml",
]


def test_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout == f"tunelab {tunelab.__version__}\n"


def test_every_command_group_is_merged_into_one_command_line_in_order() -> None:
    group = typer.main.get_command(app)

    assert group.list_commands(click.Context(group)) == COMMANDS


def test_importing_the_command_loads_nothing_that_only_a_command_needs() -> None:
    code = (
        "import json, sys; import tunelab.cli; "
        f"print(json.dumps([m for m in {LOADED_BY_COMMANDS!r} if m in sys.modules]))"
    )

    loaded = subprocess.run(
        [sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True
    ).stdout

    assert json.loads(loaded) == []
