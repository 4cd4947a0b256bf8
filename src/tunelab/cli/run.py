"""`tunelab run` and `tunelab worker`: the commands that run trials of a study."""

from __future__ import annotations

import contextlib
import logging
import shlex
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.logging import RichHandler

import tunelab
from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.cli import render
from tunelab.cli.common import (
    EXIT_INTERRUPTED,
    DataRootsOption,
    DebugOption,
    TrustedModulesOption,
    err,
    examples,
    existing_storage,
    out,
    user_facing,
)
from tunelab.exceptions import MissingExtraError, TunelabError
from tunelab.storage import DEFAULT_STORAGE
from tunelab.trial import TrialState

if TYPE_CHECKING:
    from tunelab.config import StudyConfig

QUICKSTART_BUDGET = 30

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

commands = typer.Typer()


@commands.command(
    help=(
        "Run a study: create it, or resume it with new trials if it already exists.\n\n"
        "Each trial is saved as it ends, so nothing finished is lost if the run stops, and "
        "running the same command again continues the study. [bold]--n-trials[/bold] and "
        "[bold]--timeout[/bold] replace the file's budget (give both to cap both); the other "
        "options replace the file's field of the same name. Ctrl-C stops cleanly (exit code 130)."
    ),
    epilog=examples(
        "tunelab run                           # the quickstart; again: 30 more trials",
        "tunelab run --n-trials 5 --seed 1     # a shorter quickstart",
        "tunelab run examples/quadratic.yaml",
        "tunelab run study.yaml --timeout 10m --storage sqlite:///runs.db",
        "tunelab run study.yaml --dask tcp://sched:8786   # trials on a Dask cluster",
        "tunelab run examples/digits_fused.yaml --fuse 32  # 32 trials as one model",
    ),
)
@user_facing
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
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard",
            help="Serve the live dashboard at http://127.0.0.1:PORT/ while the study runs.",
        ),
    ] = False,
    dashboard_port: Annotated[
        int,
        typer.Option("--dashboard-port", min=0, max=65535, help="The dashboard's port."),
    ] = 8080,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Options on the command line win over the study file, so one file serves many runs."""
    from tunelab.config import prepare_objective, read_study_config

    overrides: dict[str, Any] = {
        "storage": storage, "sampler": sampler, "seed": seed, "n_jobs": n_jobs, "fuse": fuse
    }
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if n_trials is not None or timeout is not None:
        overrides.update(n_trials=n_trials, timeout=timeout)
    config = _quickstart(overrides) if study_file is None else read_study_config(
        study_file, overrides
    )
    if dask is None:
        _start_worker_launcher(config)
    source = None if study_file else "quickstart"
    config, objective = prepare_objective(config, study_file, source=source)
    resume = ["tunelab", "run"] + ([str(study_file)] if study_file else [])
    resume += ["--storage", storage] if storage else []
    executor: Any = contextlib.nullcontext()
    if dask is not None:
        from tunelab.execution.dask import connect

        executor = connect(dask, objective)  # a Client, closed when the run ends
    with _trial_logging(verbose, debug), executor as client:
        _run_study(
            config, objective, shlex.join(resume), study_file, executor=client,
            dashboard_port=dashboard_port if dashboard else None,
        )


@commands.command(
    help=(
        "Join a study that `tunelab run` started, from any machine that reaches its storage: "
        "run trials of it here until this worker's budget is spent. Any number of workers, on "
        "any number of machines, can work on one study (PostgreSQL for many machines; SQLite "
        "for the processes of one). The objective comes from the study file the study was "
        "started with (its module must be importable here). The worker imports the code and "
        "reads the files the stored study names; [bold]--trusted-module[/bold] and "
        "[bold]--data-root[/bold] refuse anything else before it is imported or read."
    ),
    epilog=examples(
        "tunelab worker --storage postgresql://user:pw@db/tunelab --study digits",
        "tunelab worker -s sqlite:///tunelab.db --study quadratic --n-trials 20 --n-jobs 2",
        "tunelab worker -s postgresql://db/tunelab --study digits --trusted-module my_lab "
        "--data-root /data",
    ),
)
@user_facing
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
    trusted_modules: TrustedModulesOption = None,
    data_roots: DataRootsOption = None,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Budget options replace the study file's for this worker only."""
    from tunelab.config import StorageTrust, load_stored_study

    url = existing_storage(storage)
    overrides: dict[str, Any] = {"n_jobs": n_jobs} if n_jobs is not None else {}
    if n_trials is not None or timeout is not None:
        overrides.update(n_trials=n_trials, timeout=timeout)
    trust = StorageTrust(trusted_modules=trusted_modules, data_roots=data_roots)
    config, objective = load_stored_study(url, study, overrides, trust)
    resume = ["tunelab", "worker", "--storage", url, "--study", study]
    resume += [part for m in trusted_modules or () for part in ("--trusted-module", m)]
    resume += [part for root in data_roots or () for part in ("--data-root", str(root))]
    with _trial_logging(verbose, debug):
        _run_study(config, objective, shlex.join(resume), keep_record=True)


def _quickstart(overrides: dict[str, Any]) -> StudyConfig:
    """The built-in quickstart as a study config, so that it obeys the same options and checks."""
    from tunelab.config import validate_study_config
    from tunelab.samplers import DEFAULT_SAMPLER

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
    return validate_study_config(data, "quickstart", set(overrides))


def _start_worker_launcher(config: StudyConfig) -> None:
    """Start the process that worker processes are forked from now, if the run will have any:
    it imports PyTorch and the rest while this process loads the task's data and checks it."""
    from tunelab.execution.launcher import start_launcher
    from tunelab.registry import module_of
    from tunelab.samplers import SAMPLERS
    from tunelab.study.optimize import worker_count

    workers = worker_count(config.n_jobs, config.devices)
    if workers == 1 and config.devices is None:
        return
    sampler = module_of(config.sampler, SAMPLERS)
    modules = ["tunelab.storage.sql"] + ([sampler] if sampler else [])
    start_launcher(workers, modules + (["tunelab.torch.task", "torch"] if config.task else []))


@contextlib.contextmanager
def _trial_logging(verbose: int, debug: bool) -> Iterator[None]:
    """Route tunelab's log through rich so that it prints above the progress bar, not into it.

    Only warnings (a failed trial) show by default: one INFO line per trial would bury the bar.
    """
    logger = logging.getLogger("tunelab")
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler = RichHandler(console=err(), show_path=False, markup=False, show_time=False)
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
    dashboard_port: int | None = None,
) -> None:
    """Create or load the study and run it; ``keep_record``: leave the stored study file as
    it is (a worker runs what was stored, with its own budget); ``executor``: a Dask client;
    ``dashboard_port``: serve the dashboard there while it runs."""
    from tunelab.config import config_record

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
    console = out()
    console.print(render.run_heading(config, study, before))
    # A task's callbacks warn, for one, when no trial meets a limit.
    callbacks = [] if config.task is None else objective.callbacks()  # type: ignore[attr-defined]
    try:
        with _sigterm_interrupts(), _dashboard(study, dashboard_port):
            study.optimize(
                objective,
                n_trials=config.n_trials,
                timeout=config.timeout,
                callbacks=callbacks,
                show_progress_bar=True,
                n_jobs=config.n_jobs,
                devices=config.devices,
                executor=executor,
                fuse=config.fuse,
            )
    except KeyboardInterrupt:
        text = render.interrupted_text(study, first_new, config.storage, resume)
        err().print(text, soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    new = [r for r in study.trials if r.number >= first_new]
    console.print(render.best_table(study, 5))
    console.print(render.run_summary(study, new, config.storage, resume))
    failed = [r for r in new if r.state is TrialState.FAIL]
    if new and len(failed) == len(new):
        raise TunelabError(
            f"all {len(new)} trials of this run failed; the last one with: "
            f"{failed[-1].fail_reason}. Fix the {render.objective_text(config)}; the trials are "
            "kept in the storage, and -v or --debug shows each failure as it happens."
        )


@contextlib.contextmanager
def _dashboard(study: tunelab.Study, port: int | None) -> Iterator[None]:
    """Serve the dashboard over the study's storage in a thread of this process, if asked."""
    if port is None:
        yield
        return
    try:
        from tunelab.dashboard import serving
    except ModuleNotFoundError as error:
        raise MissingExtraError(error.name or "starlette", "web", "--dashboard") from None
    with serving(study.storage, port=port) as address:
        # A study's name holds no character that a URL must escape.
        err().print(f"Dashboard: {address}studies/{study.study_name}", soft_wrap=True)
        yield


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
