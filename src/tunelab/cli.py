"""The ``tunelab`` command: run a study file (or the built-in quickstart) and look at the results.

A user's mistake (a bad study file, an unknown study, a missing storage file) prints one red
paragraph and exits with code 2; tracebacks are shown only with ``--debug``, because a
traceback points at tunelab's code while the fix is in the user's file. Commands that only read
(``studies``, ``show``, ``export``, ``delete``) never create a storage file: a mistyped path
should say so rather than leave an empty database behind.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import logging
import shlex
import signal
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

import tunelab
from tunelab import _display as display
from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.analysis.doctor import Finding, diagnose_study, diagnose_trial, findings_table
from tunelab.config import (
    DEFAULT_STORAGE,
    StudyConfig,
    check_storage_url,
    config_record,
    load_stored_study,
    load_study_file,
    prepare_objective,
    validate_study_config,
)
from tunelab.dataframe import trial_rows
from tunelab.exceptions import MissingExtraError, StorageError, TunelabError
from tunelab.pruners.base import continued_trials
from tunelab.pruners.savings import step_savings
from tunelab.samplers import DEFAULT_SAMPLER
from tunelab.study import Study
from tunelab.telemetry import has_telemetry
from tunelab.trial import TrialRecord, TrialState

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130
QUICKSTART_BUDGET = 30

_out = Console(highlight=False, markup=False)
_err = Console(stderr=True, highlight=False, markup=False)
_COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def _examples(*lines: str) -> str:
    return "[bold]Examples[/bold]\n" + "\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    name="tunelab",
    help=(
        "Tune the hyperparameters of a training script: run studies, then inspect, report on, "
        "diagnose, export or delete them.\n\n"
        "Start with [bold]tunelab run[/bold] (a built-in quickstart that tunes a small network on "
        "the digits data set), then [bold]tunelab run examples/quadratic.yaml[/bold] for a study "
        "file of your own.\n\n"
        "Add [bold]--debug[/bold] to any command to see the full traceback of an error."
    ),
    epilog=_examples(
        "tunelab run                             # the quickstart: 30 trials",
        "tunelab run study.yaml --n-trials 100   # a study file, another budget",
        "tunelab studies                         # what ./tunelab.db holds",
        "tunelab show quadratic --top 10",
        "tunelab report quadratic -o report.html      # summary, figures, importance, doctor",
        "tunelab doctor quickstart-digits-mlp         # why trials train badly, and what to change",
        "tunelab export quadratic -o trials.csv",
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

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
VerboseOption = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True, show_default=False, help="Log every trial (-vv: more)."
    ),
]
TimeoutOption = Annotated[
    str | None,
    typer.Option(
        help="Stop starting trials after this long: 600, 90s, 10m, 2h.", show_default=False
    ),
]
NJobsOption = Annotated[
    int | None,
    typer.Option(
        "--n-jobs",
        "-j",
        help="Worker processes on this machine (-1: one per CPU core), instead of the file's.",
        show_default=False,
    ),
]
StudyArgument = Annotated[
    str,
    typer.Argument(
        help="The study's name, as `tunelab studies` lists it.", metavar="STUDY", show_default=False
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"


def main() -> None:
    """Entry point of the ``tunelab`` console script."""
    app()


def _version(value: bool) -> None:
    if value:
        _out.print(f"tunelab {tunelab.__version__}")
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


def _user_facing(command: F) -> F:
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
            _err.print("Interrupted.", style="yellow")
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
    _err.print(Text("error: ", style="bold red") + Text(message, style="red"), soft_wrap=True)


# run -----------------------------------------------------------------------------------------


@app.command(
    help=(
        "Run a study: create it, or resume it with new trials if it already exists.\n\n"
        "Each trial is saved as it ends, so nothing finished is lost if the run stops, and "
        "running the same command again continues the study. [bold]--n-trials[/bold] and "
        "[bold]--timeout[/bold] replace the file's budget (give both to cap both); the other "
        "options replace the file's field of the same name. Ctrl-C stops cleanly (exit code 130)."
    ),
    epilog=_examples(
        "tunelab run                           # the quickstart; again: 30 more trials",
        "tunelab run --n-trials 5 --seed 1     # a shorter quickstart",
        "tunelab run examples/quadratic.yaml",
        "tunelab run study.yaml --timeout 10m --storage sqlite:///runs.db",
        "tunelab run study.yaml --dask tcp://sched:8786   # trials on a Dask cluster",
        "tunelab run examples/digits_fused.yaml --fuse 32  # 32 trials as one model",
    ),
)
@_user_facing
def run(
    study_file: Annotated[
        Path | None,
        typer.Argument(
            help="A YAML study file (see examples/quadratic.yaml). Without one, the built-in "
            "quickstart runs: a small network on the digits data set, 30 trials.",
            metavar="STUDY_FILE",
            show_default=False,
        ),
    ] = None,
    n_trials: Annotated[
        int | None,
        typer.Option("--n-trials", "-n", min=1, help="Run this many trials.", show_default=False),
    ] = None,
    timeout: TimeoutOption = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage", "-s", help="Storage URL, instead of the file's.", show_default=False
        ),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option(
            help="Sampler name (auto, random, tpe, grid, qmc, sobol, halton, annealing, tabu, "
            "genetic, pso, nsga2, cmaes, reinforce, gp, bohb), instead of the file's.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the sampler, instead of the file's.", show_default=False),
    ] = None,
    n_jobs: NJobsOption = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Run the trials on the Dask cluster whose scheduler is at ADDRESS (e.g. "
            "tcp://10.0.0.5:8786); its workers must reach the storage and import the objective.",
            show_default=False,
        ),
    ] = None,
    fuse: Annotated[
        int | None,
        typer.Option(
            "--fuse",
            metavar="K",
            min=1,
            help="Train K trials at a time as one fused model (a study file with a 'task:'); "
            "trials of one architecture share the hardware instead of taking turns.",
            show_default=False,
        ),
    ] = None,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Options on the command line win over the study file, so one file serves many runs."""
    overrides: dict[str, Any] = {
        "storage": storage, "sampler": sampler, "seed": seed, "n_jobs": n_jobs, "fuse": fuse
    }
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if n_trials is not None or timeout is not None:
        overrides.update(n_trials=n_trials, timeout=timeout)
    if study_file is None:
        config, objective = _quickstart(overrides)
    else:
        config, objective = load_study_file(study_file, overrides)
    resume = ["tunelab", "run"] + ([str(study_file)] if study_file else [])
    resume += ["--storage", storage] if storage else []
    executor: Any = contextlib.nullcontext()
    if dask is not None:
        from tunelab.execution.dask import connect

        executor = connect(dask, objective)  # a Client, closed when the run ends
    with _trial_logging(verbose, debug), executor as client:
        _run_study(config, objective, shlex.join(resume), study_file, executor=client)


@app.command(
    help=(
        "Join a study that `tunelab run` started, from any machine that reaches its storage: "
        "run trials of it here until this worker's budget is spent. Any number of workers, on "
        "any number of machines, can work on one study (PostgreSQL for many machines; SQLite "
        "for the processes of one). The objective comes from the study file the study was "
        "started with (its module must be importable here)."
    ),
    epilog=_examples(
        "tunelab worker --storage postgresql://user:pw@db/tunelab --study digits",
        "tunelab worker -s sqlite:///tunelab.db --study quadratic --n-trials 20 --n-jobs 2",
    ),
)
@_user_facing
def worker(
    storage: Annotated[
        str, typer.Option("--storage", "-s", help="The study's storage URL.", show_default=False)
    ],
    study: Annotated[str, typer.Option("--study", help="The study's name.", show_default=False)],
    n_trials: Annotated[
        int | None,
        typer.Option(
            "--n-trials", "-n", min=1, help="Trials for this worker (default: the file's).",
            show_default=False,
        ),
    ] = None,
    timeout: TimeoutOption = None,
    n_jobs: NJobsOption = None,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Budget options replace the study file's for this worker only."""
    url = _existing_storage(storage)
    overrides: dict[str, Any] = {"n_jobs": n_jobs} if n_jobs is not None else {}
    if n_trials is not None or timeout is not None:
        overrides.update(n_trials=n_trials, timeout=timeout)
    config, objective = load_stored_study(url, study, overrides)
    resume = ["tunelab", "worker", "--storage", url, "--study", study]
    with _trial_logging(verbose, debug):
        _run_study(config, objective, shlex.join(resume), keep_record=True)


def _quickstart(overrides: dict[str, Any]) -> tuple[StudyConfig, Callable[..., Any]]:
    """The built-in quickstart as a study config, so that it obeys the same options and checks."""
    try:
        from tunelab.torch.quickstart import QUICKSTART_STUDY_NAME, QUICKSTART_TASK
    except ModuleNotFoundError as error:
        raise MissingExtraError(error.name or "torch", "torch", "The built-in quickstart") from None
    data = {
        "name": QUICKSTART_STUDY_NAME,
        "task": QUICKSTART_TASK,
        "storage": DEFAULT_STORAGE,
        "sampler": DEFAULT_SAMPLER,
        "pruner": "median",
        "seed": 0,
        "n_trials": QUICKSTART_BUDGET,
    }
    data.update(overrides)
    config = validate_study_config(data, "quickstart", set(overrides))
    return prepare_objective(config, source="quickstart")


@contextlib.contextmanager
def _trial_logging(verbose: int, debug: bool) -> Iterator[None]:
    """Route tunelab's log through rich so that it prints above the progress bar, not into it.

    Only warnings (a failed trial) show by default: one INFO line per trial would bury the bar.
    """
    logger = logging.getLogger("tunelab")
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler = RichHandler(console=_err, show_path=False, markup=False, show_time=False)
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _run_study(
    config: StudyConfig,
    objective: Callable[..., Any],
    resume: str,
    study_file: Path | None = None,
    keep_record: bool = False,
    executor: Any = None,
) -> None:
    """Create or load the study and run it; ``keep_record``: leave the stored study file as
    it is (a worker runs what was stored, with its own budget); ``executor``: a Dask client."""
    study = tunelab.create_study(
        name=config.name,
        storage=config.storage,
        directions=config.objective_directions,
        sampler=config.sampler,
        pruner=config.pruner,
        load_if_exists=True,
        seed=config.seed,
        metric_names=config.metric_names,
        heartbeat_interval=config.heartbeat_interval,
        grace_period=config.grace_period,
        max_retries=config.max_retries,
    )
    if not keep_record:
        record = config_record(config, study_file)
        study.storage.set_study_system_attr(study.study_id, STUDY_FILE_ATTR, record)
    before = study.trials
    first_new = max((r.number for r in before), default=-1) + 1
    state = f"resuming after {len(before)} trials" if before else "a new study"
    _out.print(
        Text.assemble(
            "Study ",
            (config.name, "bold"),
            f" ({display.objectives_text(study)}) in {config.storage}: {state}. "
            f"Running {_budget_text(config)}; Ctrl-C stops cleanly.",
        )
    )
    try:
        with _sigterm_interrupts():
            study.optimize(
                objective,
                n_trials=config.n_trials,
                timeout=config.timeout,
                show_progress_bar=True,
                n_jobs=config.n_jobs,
                devices=config.devices,
                executor=executor,
                fuse=config.fuse,
            )
    except KeyboardInterrupt:
        _print_interrupted(study, first_new, config.storage, resume)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    new = [r for r in study.trials if r.number >= first_new]
    _out.print(_best_table(study, 5))
    _out.print(_run_summary(study, new, config.storage, resume))
    failed = [r for r in new if r.state is TrialState.FAIL]
    if new and len(failed) == len(new):
        raise TunelabError(
            f"all {len(new)} trials of this run failed; the last one with: "
            f"{failed[-1].fail_reason}. Fix the {_objective_text(config)}; the trials are "
            "kept in the storage, and -v or --debug shows each failure as it happens."
        )


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler ending the job) stops the run as Ctrl-C does: the running trial
    is failed as interrupted rather than left RUNNING."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("by SIGTERM")

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _objective_text(config: StudyConfig) -> str:
    return f"objective ({config.objective})" if config.objective else "task"


def _budget_text(config: StudyConfig) -> str:
    parts = []
    if config.n_trials is not None:
        parts.append(f"{config.n_trials} trials")
    if config.timeout is not None:
        parts.append(f"for {display.duration(config.timeout)}")
    return " or ".join(parts) + (", whichever ends first" if len(parts) > 1 else "")


def _print_interrupted(study: Study, first_new: int, storage: str, resume: str) -> None:
    trials = study.trials
    finished = sum(r.state.is_finished for r in trials)
    complete = sum(r.state is TrialState.COMPLETE for r in trials)
    interrupted = [
        r.number for r in trials if r.number >= first_new and "interrupt" in (r.fail_reason or "")
    ]
    note = f" Trial {interrupted[-1]}, which was running, is marked FAIL." if interrupted else ""
    _err.print(
        Text(
            f"Interrupted. Study {study.study_name!r} keeps all {finished} finished trials "
            f"({complete} complete) in {storage}.{note} Continue with: {resume}",
            style="yellow",
        ),
        soft_wrap=True,
    )


def _run_summary(study: Study, new: Sequence[TrialRecord], storage: str, resume: str) -> Text:
    counts = Counter(r.state for r in new)
    carried_on = continued_trials(study.trials)
    paused = sum(r.state is TrialState.PRUNED and r.number in carried_on for r in new)
    pruned = counts[TrialState.PRUNED] - paused
    numbers = f" (trials {new[0].number}-{new[-1].number})" if new else ""
    text = (
        f"This run: {counts[TrialState.COMPLETE]} complete, {pruned} pruned, "
        + (f"{paused} paused and carried on, " if paused else "")
        + f"{counts[TrialState.FAIL]} failed{numbers}. "
    )
    savings = step_savings(new)
    if pruned and savings is not None:
        text += (
            f"Pruning saved {savings.saved_fraction:.0%} of the steps: {savings.run} run where "
            f"{savings.without_pruning} would have run every trial to step "
            f"{savings.full_steps}. "
        )
    best = _best_text(study)
    text += f"Best so far: {best}. " if best else "No completed trial yet. "
    text += f"Stored in {storage}; `{resume}` adds more trials, `tunelab show {study.study_name}"
    text += f"{'' if storage == DEFAULT_STORAGE else ' --storage ' + storage}` shows them."
    return Text(text)


# studies / show ------------------------------------------------------------------------------


@app.command(epilog=_examples("tunelab studies", "tunelab studies --storage sqlite:///runs.db"))
@_user_facing
def studies(storage: StorageOption = DEFAULT_STORAGE, debug: DebugOption = False) -> None:
    """List the studies in a storage, with their trial counts and best values."""
    url = _existing_storage(storage)
    summaries = tunelab.list_studies(url)
    if not summaries:
        _out.print(f"No studies in {url} yet; `tunelab run STUDY_FILE` creates one.")
        return
    table = Table(
        title=f"Studies in {url}", box=None, header_style="bold underline", pad_edge=False
    )
    table.add_column("name", no_wrap=True)
    table.add_column("goal")
    for column in ("trials", "done", "pruned", "fail", "run", "best"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for s in summaries:
        best = display.number(s.best_value) if len(s.directions) == 1 else "Pareto front"
        table.add_row(
            s.name,
            ",".join(direction[:3] for direction in s.directions),
            str(s.n_trials),
            *(str(s.counts.get(state, 0)) for state in _COUNTED_STATES),
            best,
            f"{s.created_at:%Y-%m-%d}",
        )
    _out.print(table)


@app.command(epilog=_examples("tunelab show quadratic", "tunelab show quadratic --top 3"))
@_user_facing
def show(
    study: StudyArgument,
    storage: StorageOption = DEFAULT_STORAGE,
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many best trials to list.")
    ] = 10,
    debug: DebugOption = False,
) -> None:
    """Summarise a study and list its best trials (for several objectives: the Pareto front)."""
    loaded = tunelab.load_study(study, _existing_storage(storage))
    trials = loaded.trials
    counts = Counter(r.state for r in trials)
    created = _when(loaded.created_at)
    per_state = ", ".join(
        f"{counts[s]} {s.value.lower()}" for s in (*_COUNTED_STATES, TrialState.WAITING)
    )
    best = _best_text(loaded) or "no completed trial yet"
    _out.print(
        Text.assemble("Study ", (loaded.study_name, "bold"), f" in {storage}, created {created}")
    )
    _out.print(f"Objectives: {display.objectives_text(loaded)}")
    _out.print(f"Trials: {len(trials)} in all: {per_state}")
    _out.print(f"Best: {best}")
    if counts[TrialState.COMPLETE]:
        _out.print(_best_table(loaded, top))


def _best_table(study: Study, k: int) -> Table:
    """The ``k`` best completed trials, or the Pareto front of a multi-objective study."""
    names = list(study.objective_names)
    multi = len(names) > 1
    records = display.ranked_trials(study)[:k]
    title = "Pareto front" if multi else f"Best {len(records)} trials"
    table = Table(title=title)
    table.add_column("trial", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("params")
    table.add_column("duration", justify="right")
    for record in records:
        table.add_row(
            str(record.number),
            *(display.number(v) for v in record.values or ()),
            display.params_text(record.params),
            display.duration(record.duration),
        )
    return table




def _best_text(study: Study) -> str | None:
    ranked = display.ranked_trials(study)
    if not ranked:
        return None
    if len(study.directions) > 1:
        return f"{len(ranked)} trial(s) on the Pareto front"
    best = ranked[0]
    value = display.number(best.values[0] if best.values else None)
    params = display.params_text(best.params)
    return f"{study.objective_names[0]} {value} at trial {best.number} ({params})"




# export / delete -----------------------------------------------------------------------------


@app.command(
    epilog=_examples(
        "tunelab export quadratic -o trials.csv",
        "tunelab export quadratic --format json > trials.json",
    )
)
@_user_facing
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
            help="Write to this file instead of the standard output.",
            show_default=False,
        ),
    ] = None,
    storage: StorageOption = DEFAULT_STORAGE,
    debug: DebugOption = False,
) -> None:
    """Export every trial of a study, one row each: number, state, values, params, times."""
    loaded = tunelab.load_study(study, _existing_storage(storage))
    rows = trial_rows(loaded)
    chosen = format or (
        ExportFormat.json if output and output.suffix.lower() == ".json" else ExportFormat.csv
    )
    text = _rows_json(rows) if chosen is ExportFormat.json else _rows_csv(rows)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise TunelabError(
            f"option --output: cannot write {output} ({error.strerror}); choose another path."
        ) from None
    _err.print(f"Wrote {len(rows)} trials of study {study!r} to {output} ({chosen.value}).")


def _rows_csv(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _plain(value) for key, value in row.items()})
    return buffer.getvalue()


def _rows_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows], indent=2) + "\n"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@app.command(epilog=_examples("tunelab delete quadratic", "tunelab delete quadratic --yes"))
@_user_facing
def delete(
    study: StudyArgument,
    storage: StorageOption = DEFAULT_STORAGE,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    debug: DebugOption = False,
) -> None:
    """Delete a study and all its trials (asks first, unless --yes)."""
    url = _existing_storage(storage)
    n_trials = len(tunelab.load_study(study, url).trials)
    question = (
        f"Delete study {study!r} and its {n_trials} trials from {url}? This cannot be undone."
    )
    if not yes and not typer.confirm(question, default=False):
        _err.print("Nothing deleted.")
        raise typer.Exit(EXIT_UNEXPECTED)
    tunelab.delete_study(study, url)
    _out.print(f"Deleted study {study!r} and its {n_trials} trials from {url}.")


# report / doctor -----------------------------------------------------------------------------


@app.command(
    epilog=_examples(
        "tunelab report quickstart-digits-mlp          # writes quickstart-digits-mlp-report.html",
        "tunelab report quadratic -o report.html --storage sqlite:///runs.db",
    )
)
@_user_facing
def report(
    study: StudyArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The HTML file to write (replaced if it exists); by default STUDY-report.html "
            "in the current directory.",
            show_default=False,
        ),
    ] = None,
    storage: StorageOption = DEFAULT_STORAGE,
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many best trials to list.")
    ] = 10,
    debug: DebugOption = False,
) -> None:
    """Write a study's report: one HTML file, readable offline, with the summary, best
    trials, figures, hyperparameter importance, the training doctor's findings and an
    ensemble of the best trials (for a study file with a 'task:' whose data has a test part
    and whose trials saved their weights)."""
    loaded = tunelab.load_study(study, _existing_storage(storage))
    from tunelab.report import render_report  # needs the plots extra; the error says so

    path = output if output is not None else Path(f"{study}-report.html")
    text = render_report(loaded, top=top)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise TunelabError(
            f"option --output: cannot write {path} ({error.strerror}); choose another path."
        ) from None
    _out.print(
        f"Wrote the report of study {study!r} to {path.resolve()}; open it in a browser.",
        soft_wrap=True,  # a path cut in two cannot be copied
    )


@app.command(
    epilog=_examples(
        "tunelab doctor quickstart-digits-mlp           # the study and its 3 best trials",
        "tunelab doctor quickstart-digits-mlp 12        # trial 12 alone",
        "tunelab doctor quickstart-digits-mlp --top 10",
    )
)
@_user_facing
def doctor(
    study: StudyArgument,
    trial: Annotated[
        int | None,
        typer.Argument(
            min=0,
            help="A trial's number, to diagnose that trial alone.",
            metavar="TRIAL",
            show_default=False,
        ),
    ] = None,
    storage: StorageOption = DEFAULT_STORAGE,
    top: Annotated[
        int, typer.Option("--top", "-k", min=1, help="How many best trials to diagnose.")
    ] = 3,
    debug: DebugOption = False,
) -> None:
    """Say what went wrong in a study's training, with the evidence and what to change: the
    study as a whole and its best trials, or one trial."""
    loaded = tunelab.load_study(study, _existing_storage(storage))
    if trial is None:
        _print_study_diagnosis(loaded, top)
    else:
        _print_trial_diagnosis(loaded, _trial_numbered(loaded, trial))


def _print_study_diagnosis(study: Study, top: int) -> None:
    best = display.ranked_trials(study)[:top]  # the trials diagnose_study diagnoses
    findings = diagnose_study(study, top=top)
    about_study = [f for f in findings if f.trial is None]
    objectives = display.objectives_text(study)
    _out.print(Text.assemble("Study ", (study.study_name, "bold"), f" ({objectives})"))
    _print_findings(about_study, "The study as a whole")
    if not best:
        _out.print("No trial has completed yet, so there are no best trials to diagnose.")
        return
    numbers = ", ".join(str(record.number) for record in best)
    about_trials = [f for f in findings if f.trial is not None]
    _print_findings(about_trials, f"The best {len(best)} trial(s): {numbers}")


def _print_trial_diagnosis(study: Study, record: TrialRecord) -> None:
    values = ", ".join(display.number(v) for v in record.values or ())
    outcome = record.state.value.lower() + (f", {values}" if values else "")
    _out.print(
        Text.assemble(
            f"Trial {record.number} of study ", (study.study_name, "bold"),
            f" ({outcome}): {display.params_text(record.params) or 'no parameters'}",
        )
    )
    if record.fail_reason:
        _out.print(f"It ended with: {record.fail_reason.strip().splitlines()[0]}", soft_wrap=True)
    _print_findings(diagnose_trial(record), f"Trial {record.number}")
    if not has_telemetry(record):
        _out.print(
            f"Trial {record.number} has no training telemetry, so only its state and failure "
            "were checked; tunelab.torch records telemetry for the trials it trains."
        )


def _print_findings(findings: Sequence[Finding], title: str) -> None:
    """The doctor's table of ``findings``, or one line when there are none."""
    if findings:
        _out.print(findings_table(findings, title=title))
    else:
        _out.print(Text.assemble((title, "bold"), ": no problems found."))


def _trial_numbered(study: Study, number: int) -> TrialRecord:
    records = study.trials
    for record in records:
        if record.number == number:
            return record
    held = f"trials 0 to {records[-1].number}" if records else "no trials yet"
    raise TunelabError(
        f"argument TRIAL: study {study.study_name!r} has no trial {number} (it has {held}); "
        f"give one of its trial numbers, as `tunelab show {study.study_name}` lists them."
    )


# helpers -------------------------------------------------------------------------------------


def _existing_storage(url: str) -> str:
    """``url`` if it is valid and, for SQLite, its file exists: reading must not create one."""
    try:
        check_storage_url(url)
    except StorageError as error:
        raise StorageError(f"option --storage: {error}.") from None
    database = _sqlite_file(url)
    if database is not None and not database.exists():
        raise StorageError(
            f"option --storage: there is no storage file {str(database)!r} ({url}, looked in "
            f"{database.resolve().parent}). `tunelab run STUDY_FILE` creates it with a study; "
            "or pass --storage with the URL of an existing database."
        )
    return url


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (relative to the current directory); None for other storages."""
    if not url.lower().startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)








def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")
