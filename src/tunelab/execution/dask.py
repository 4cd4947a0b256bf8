"""``optimize(executor=client)``: trials on an existing Dask cluster, on a shared storage.

One Dask task runs one trial (:func:`run_one_trial`): the task asks the study for a trial, runs
the objective and tells the result to the storage, the same path as the serial loop and the
worker processes. A task per trial, rather than one long task per worker, is what Dask is good
at: the scheduler places each trial on whichever worker is free, workers can join, leave or be
restarted between trials, and a trial's uncaught error is that task's error, raised here. The
results come back through the storage, where the calling process follows them
(:class:`FinishedTrials`) to run the callbacks and the progress bar; a task returns only its
trial's number.

The calling process keeps at most as many tasks in flight as the cluster has worker threads.
Trials are sampled when their task starts, so queued tasks would not make the sampler see less;
but a budget given as a time (or none), ``study.stop()``, a stop requested from elsewhere
(``request_stop``), a finished grid or an error must take effect at once, and a task never
submitted costs nothing to hold back, while one running cannot be taken back. Each submission
counts against ``n_trials``, so exactly that many tasks run.

Dask runs a task again when the worker running it died. Each task is a ticket written to its
trial (the ``dask_task`` system attribute), and a task run again finds its ticket spent and
starts no second trial: the trial left behind is failed and retried by the study's heartbeats
(create the study with ``heartbeat_interval``; this process checks them every interval while
it runs), and the budget stays exact.

On Ctrl-C the tasks not yet started are cancelled and the running trials are failed as
interrupted, as in the serial loop; Dask cannot stop a running task, so its objective runs on
until its next ``report`` (which then raises) or its end, and its result is not stored. The run
is marked interrupted in the storage (the ``dask_interrupted:RUN`` study system attribute)
before the caller looks for running trials, and each trial reads that mark after writing its
ticket, so that a trial starting at that moment is failed too, by itself.

A worker thread opens the study once per ``optimize`` call and keeps it for the call's next
tasks (opening costs queries, and samplers keep caches). The study is kept per thread, not per
process, because a Dask worker runs several tasks at a time in threads, and a study with its
sampler is not made for concurrent use; per call, because a new call may bring another sampler,
pruner or budget.

Dask sends the objective with cloudpickle, so lambdas and closures work, sent with every task:
keep what they capture small (load data inside the objective, or from a file the workers read).
A function's module must be importable on the workers, unless it is the script being run.
"""

from __future__ import annotations

import logging
import os
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tunelab._attrs import DASK_INTERRUPTED_PREFIX, DASK_TICKET_ATTR
from tunelab.exceptions import (
    ConfigError,
    MissingExtraError,
    StudyNotFoundError,
    TunelabError,
)
from tunelab.execution.processes import WorkerError
from tunelab.execution.worker import FinishedTrials, WorkerSpec
from tunelab.study.optimize import may_start
from tunelab.study.runner import TrialRunner
from tunelab.study.steering import stop_is_requested
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from types import ModuleType

    from distributed import Client, Future

    from tunelab.study import Study
    from tunelab.trial import Trial

CONNECT_TIMEOUT_SECONDS = 10.0

logger = logging.getLogger("tunelab")

# Per worker thread: the study it opened for the last optimize() call it served, as (run, study).
_opened = threading.local()


def check_executor(executor: Any, n_jobs: Any, devices: Sequence[str] | None) -> Client:
    """``executor`` if it is a Dask client that ``optimize`` can use alone; a ConfigError
    otherwise."""
    distributed = _distributed("optimize(executor=...)")
    if not isinstance(executor, distributed.Client):
        raise ConfigError(
            f"executor={executor!r} must be a dask.distributed.Client connected to a cluster, "
            "e.g. Client('tcp://scheduler:8786'); for worker processes on this machine, use "
            "n_jobs instead.",
            field="executor",
        )
    if n_jobs != 1:
        raise ConfigError(
            f"optimize(executor=..., n_jobs={n_jobs!r}): the Dask cluster's worker threads "
            "decide how many trials run at once; leave n_jobs out.",
            field="n_jobs",
        )
    if devices is not None:
        raise ConfigError(
            f"optimize(executor=..., devices={devices!r}): Dask workers bring their own "
            "devices (start one worker per GPU, e.g. with dask-cuda's LocalCUDACluster); "
            "leave devices out.",
            field="devices",
        )
    client: Client = executor
    return client


def connect(
    address: str, objective: Callable[..., Any] | None = None, timeout: float | None = None
) -> Client:
    """A client of the Dask scheduler at ``address``, for ``tunelab run --dask``; a
    TunelabError that says what to do if none answers within ``timeout`` seconds (by default
    ``CONNECT_TIMEOUT_SECONDS``).

    The module of ``objective`` is sent to the workers when it is a file of the user's (a
    study file's ``objective: module:function`` next to it) rather than an installed package:
    workers started elsewhere could not import it.
    """
    distributed = _distributed("--dask")
    timeout = CONNECT_TIMEOUT_SECONDS if timeout is None else timeout
    try:
        client: Client = distributed.Client(address, timeout=timeout)
    except ValueError as error:
        raise TunelabError(
            f"option --dask: {address!r} is not a scheduler address ({error}); write it as "
            "tcp://host:port, e.g. tcp://10.0.0.5:8786."
        ) from None
    except (OSError, TimeoutError) as error:
        raise TunelabError(
            f"option --dask: no Dask scheduler answered at {address!r} ({error}); check the "
            "address, or start a scheduler with `dask scheduler` and workers with "
            "`dask worker ADDRESS`."
        ) from None
    module_file = _own_module_file(objective)
    if module_file is not None:
        try:
            client.upload_file(module_file)
        except Exception as error:
            client.close()
            raise TunelabError(
                f"option --dask: the workers could not load the objective's module "
                f"{module_file} ({type(error).__name__}: {error}); install what it imports "
                "where they run."
            ) from error
    return client


def _own_module_file(objective: Any) -> str | None:
    """The file of ``objective``'s module if it is a lone module of the user's, not part of a
    package or of an installed distribution."""
    name = getattr(objective, "__module__", None) or ""
    path: str | None = getattr(sys.modules.get(name), "__file__", None)
    if name in ("", "__main__") or "." in name or path is None or not path.endswith(".py"):
        return None  # a script's own functions travel by value; a package cannot be one file
    installed = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    path = os.path.abspath(path)
    if any(os.path.commonpath([path, place]) == place for place in installed if place):
        return None
    return path


def optimize_on_dask(
    study: Study,
    spec: WorkerSpec,
    client: Client,
    n_trials: int | None,
    timeout: float | None,
    on_finished: Callable[[TrialRecord], None],
) -> None:
    """Run the study's trials as Dask tasks; ``on_finished`` sees each finished one.

    Stops submitting when ``n_trials`` tasks were submitted, ``timeout`` seconds passed, a
    callback called ``study.stop()``, a stop was requested (``request_stop``, from any
    process), the sampler is exhausted or a task failed; the tasks in flight then finish, and
    one that starts after a stop was requested starts no trial. An error a trial does not
    catch is raised as a :class:`WorkerError` whose cause is the trial's own exception. On
    Ctrl-C, the tasks not yet started are cancelled and the running trials failed as
    interrupted.
    """
    distributed = _distributed("optimize(executor=...)")
    spec = replace(spec, storage_url=_absolute_sqlite(spec.storage_url))
    run = uuid.uuid4().hex
    deadline = None if timeout is None else time.monotonic() + timeout
    watcher = FinishedTrials(study)
    in_flight: set[Future[int | None]] = set()
    completed = distributed.as_completed(loop=client.loop)
    submitted = 0
    submitting = True  # once stopped, for any reason, it stays stopped
    failure: BaseException | None = None
    try:
        while True:
            slots = (
                max(1, sum(client.nthreads().values()))
                if submitting
                else 0
            )
            while len(in_flight) < slots and submitting:
                submitting = may_start(study, submitted, n_trials, deadline)
                if submitting:
                    ticket = f"tunelab-trial-{run}-{submitted}"
                    future = client.submit(run_one_trial, spec, run, ticket, key=ticket)
                    in_flight.add(future)
                    completed.add(future)
                    submitted += 1
            if not in_flight:
                break
            done = next(completed)
            in_flight.discard(done)
            if failure is None:
                failure = _task_failure(done)
                submitting = submitting and failure is None
            for record in watcher.new():
                on_finished(record)
    except KeyboardInterrupt as interrupt:
        client.cancel(list(in_flight))
        _interrupt(study, run, str(interrupt) or "by the user (Ctrl-C)")
        for record in watcher.new():
            on_finished(record)
        raise
    for record in watcher.new():
        on_finished(record)
    if failure is not None:
        raise WorkerError(_failure_message(failure, spec)) from failure


def run_one_trial(spec: WorkerSpec, run: str, ticket: str) -> int | None:
    """A Dask task: one trial of the study; its number, or None when there is nothing to run
    (the sampler is exhausted, a stop was requested since the run started, or this task
    already ran before its worker died)."""
    study = _study_for(spec, run)
    if study.sampler.is_exhausted(study) or stop_is_requested(study) or _spent(study, ticket):
        return None
    objective = spec.objective_here()
    interrupted = f"{DASK_INTERRUPTED_PREFIX}:{run}"

    def with_ticket(trial: Trial) -> Any:
        trial.set_system_attr(DASK_TICKET_ATTR, ticket)
        # Written, then read, where the caller stopped by Ctrl-C writes, then reads (see
        # _interrupt): a trial starting meanwhile is failed by one side or the other.
        how = study.storage.get_study(study.study_name).system_attrs.get(interrupted)
        if how is not None:
            raise KeyboardInterrupt(how)
        return objective(trial)

    try:
        return TrialRunner(study, with_ticket, spec.catch).run_one().number
    except KeyboardInterrupt:
        return None  # the run was interrupted: the trial is FAIL, "interrupted ..."


def _study_for(spec: WorkerSpec, run: str) -> Study:
    """The study as this thread opened it for ``run``; a new ``optimize`` call may bring
    another sampler, pruner or budget, so it opens the study again."""
    opened: tuple[str, Study] | None = getattr(_opened, "run_study", None)
    if opened is not None and opened[0] == run:
        return opened[1]
    if opened is not None:
        opened[1].storage.close()  # only this thread uses it
    study = spec.open_study()
    _opened.run_study = (run, study)
    return study


def _spent(study: Study, ticket: str) -> bool:
    """Whether a trial already carries ``ticket``: Dask runs a task again when its worker
    died, and the trial that worker left behind is the heartbeats' to fail and retry."""
    return any(r.system_attrs.get(DASK_TICKET_ATTR) == ticket for r in study.trials)


def _task_failure(future: Future[int | None]) -> BaseException | None:
    """The exception of a task that did not finish (the trial's own, with its traceback)."""
    if future.status == "finished":
        return None  # its result is only the trial's number: not worth fetching
    try:
        future.result()
    except Exception as error:  # the trial's error, raised again here; or CancelledError
        return error
    return None


def _failure_message(error: BaseException, spec: WorkerSpec) -> str:
    causes = [error]  # Dask wraps a task it cannot unpickle: the reason is the cause
    while causes[-1].__cause__ is not None:
        causes.append(causes[-1].__cause__)
    missing = next((e for e in causes if isinstance(e, ModuleNotFoundError)), None)
    if missing is not None:
        return (
            f"a trial's Dask task stopped: the workers cannot import {missing.name!r} "
            f"(ModuleNotFoundError: {missing}); install it where they run, or start them where "
            "it can be imported (in the directory that holds it, or with PYTHONPATH); from "
            "Python, client.upload_file(path) sends a module to them."
        )
    message = f"a trial's Dask task stopped: {type(error).__name__}: {error}"
    if any(isinstance(e, StudyNotFoundError) for e in causes):
        message += (
            f"; the workers opened {spec.storage_url} and found no study {spec.study_name!r}: "
            "they must reach the same database as this process, a database server or a SQLite "
            "file on a disk they share at the same path."
        )
    return message


def _interrupt(study: Study, run: str, how: str) -> None:
    """Fail the run's running trials as interrupted, as the serial loop and the worker
    processes do, so that none is left RUNNING if the cluster goes down with this process.

    Dask cannot stop a running task; the trial's next report (or its end) finds it finished
    and stops it there. The run is marked interrupted first, so that a trial whose ticket is
    not written yet fails itself when it is (:func:`run_one_trial`).
    """
    study.storage.set_study_system_attr(study.study_id, f"{DASK_INTERRUPTED_PREFIX}:{run}", how)
    prefix = f"tunelab-trial-{run}-"
    for record in study.get_trials([TrialState.RUNNING]):
        if str(record.system_attrs.get(DASK_TICKET_ATTR, "")).startswith(prefix):
            try:
                study.tell(record.number, state=TrialState.FAIL, fail_reason=f"interrupted {how}")
            except TunelabError:
                pass  # it finished meanwhile: its result stands


def _absolute_sqlite(url: str) -> str:
    """``url`` with a relative SQLite path made absolute: a worker started in another
    directory would open another file."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database.startswith((":memory:", "file:"))
        or os.path.isabs(database)
    ):
        return url
    return parsed.set(database=os.path.abspath(database)).render_as_string(hide_password=False)


def _distributed(feature: str) -> ModuleType:
    """The ``distributed`` module, or a MissingExtraError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise MissingExtraError("dask[distributed]", "distributed", feature) from None
    return distributed
