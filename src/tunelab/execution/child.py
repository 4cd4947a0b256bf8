"""What each worker process of ``optimize(n_jobs=...)`` runs (see :mod:`.processes`).

A worker ties itself to its parent first (:mod:`.lifeline`), then loads the study and its
objective, and runs trials while it gets tickets (:mod:`.tickets`). It tells the parent of an
error through a queue: one while it starts (it cannot load the objective or open the storage)
ends only this worker, one from a trial the study does not catch stops the study.
"""

from __future__ import annotations

import itertools
import multiprocessing
import pickle
import signal
import time
import traceback
from typing import TYPE_CHECKING, Any, NamedTuple

from tunelab.execution.launcher import enter_environment
from tunelab.execution.lifeline import tie_to_parent
from tunelab.execution.tickets import Tickets
from tunelab.study.runner import TrialRunner, population_sizes
from tunelab.study.steering import stop_is_requested

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from tunelab.execution.worker import WorkerSpec
    from tunelab.study import Study

_WAIT_SECONDS = 0.1  # how often a worker without a ticket looks again


class WorkerMessage(NamedTuple):
    """An error a worker sends its parent before it stops."""

    worker: int
    in_trial: bool  # False: it happened while the worker started
    error: str


def run_worker(
    worker: int,
    pickled_spec: bytes,
    environment: dict[str, str],
    tickets: Tickets,
    stop: Event,
    deadline: float | None,
    messages: multiprocessing.Queue[WorkerMessage],
    parent_pid: int,
) -> None:
    """A worker process: trials until the tickets, the time or the study's will run out, or
    a stop is requested (from the parent, or from any process through the storage).
    ``environment``: the parent's as the worker started, with the worker's own variables."""
    signal.signal(signal.SIGTERM, _interrupted_by_sigterm)
    enter_environment(environment)
    try:
        if not tie_to_parent(parent_pid):
            return  # the parent died while this process started: nobody wants its trials
        try:
            spec: WorkerSpec = pickle.loads(pickled_spec)
            study = spec.open_study()
            runner = TrialRunner(study, spec.objective_here(), spec.catch)
        except Exception as error:
            messages.put(WorkerMessage(worker, False, _start_error(error)))
            raise SystemExit(1) from None
        try:
            _run_trials(worker, study, runner, spec.fuse, tickets, stop, deadline)
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            described = f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
            messages.put(WorkerMessage(worker, True, described))
            stop.set()
    except KeyboardInterrupt:
        pass  # the running trial is already FAIL, "interrupted"


def _run_trials(
    worker: int,
    study: Study,
    runner: TrialRunner,
    fuse: int | None,
    tickets: Tickets,
    stop: Event,
    deadline: float | None,
) -> None:
    sizes = population_sizes(fuse) if fuse is not None else itertools.repeat(1)
    while not stop.is_set() and (deadline is None or time.time() < deadline):
        taken = tickets.take(worker, next(sizes))
        if not taken:
            if tickets.closed:
                return
            stop.wait(_WAIT_SECONDS)
            continue
        try:
            if study.sampler.is_exhausted(study) or stop_is_requested(study):
                stop.set()  # every worker finishes its trial and leaves
            elif fuse is None:
                runner.run_one()
            else:  # the parent follows the storage and calls the callbacks
                runner.run_population(taken, lambda record: None)
        finally:
            tickets.finished(worker, taken)


def _interrupted_by_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("by SIGTERM")  # from a scheduler, the parent, or the parent's death


def _start_error(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, ImportError):
        text += (
            "; a worker is a new Python process, so the objective's module must be importable "
            "there: installed, or in a directory on sys.path (PYTHONPATH) when optimize starts"
        )
    return text
