"""``optimize(n_jobs=N)``: trials in N worker processes that share the study's storage.

Processes, not threads, so that CPU-bound objectives use every core (threads would share one
interpreter lock). Workers are *spawned*, not forked: a process forked after PyTorch has run
its thread pool hangs at its first parallel operation, so the objective must be picklable.

The trial budget is a shared counter: a worker takes a ticket before each trial (K tickets
before a fused population of K), so the workers together run exactly ``n_trials``. The parent
process runs no trials: it follows the storage, calls the callbacks and the progress bar for
every trial that finishes, and stops the workers after their current trial when a callback
calls ``study.stop()``, when a worker fails with an error the study does not catch (then
raised here as a :class:`WorkerError`), or on Ctrl-C (each worker fails its running trial as
interrupted, as the serial loop does).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.devices import device_environment
from tunelab.exceptions import TunelabError
from tunelab.execution.worker import FinishedTrials, WorkerSpec
from tunelab.study.runner import TrialRunner
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

    from tunelab.study import Study

_POLL_SECONDS = 0.2
_STOP_GRACE_SECONDS = 30.0  # how long workers get to fail their trial cleanly on Ctrl-C
_UNLIMITED = -1


class WorkerError(TunelabError):
    """A worker process stopped on an error the study was not asked to catch."""


def optimize_in_processes(
    study: Study,
    spec: WorkerSpec,
    n_jobs: int,
    n_trials: int | None,
    timeout: float | None,
    devices: Sequence[str] | None,
    on_finished: Callable[[TrialRecord], None],
) -> None:
    """Run the study's trials in ``n_jobs`` processes; ``on_finished`` sees each finished one.

    Worker ``i`` gets ``devices[i % len(devices)]``: several workers per device pack trials
    onto it.
    """
    context = multiprocessing.get_context("spawn")
    tickets = context.Value("q", _UNLIMITED if n_trials is None else n_trials)
    stop = context.Event()
    errors = context.Queue()
    deadline = None if timeout is None else time.time() + timeout
    watcher = FinishedTrials(study)
    workers = []
    for index, device in enumerate(worker_devices(n_jobs, devices)):
        process = context.Process(
            target=_work,
            args=(spec.on_device(device), tickets, stop, deadline, errors),
            name=f"tunelab-worker-{index}",
            daemon=True,
        )
        with _environment(device_environment(device)):
            process.start()
        workers.append(process)
    try:
        while any(p.is_alive() for p in workers):
            time.sleep(_POLL_SECONDS)
            _report(watcher.new(), on_finished, study, stop)
            _raise_worker_error(errors, stop, workers)
        _report(watcher.new(), on_finished, study, stop)
        _raise_worker_error(errors, stop, workers)
    except KeyboardInterrupt:
        _interrupt(workers, stop)
        _report(watcher.new(), on_finished, study, stop)
        raise


def worker_devices(n_jobs: int, devices: Sequence[str] | None) -> list[str | None]:
    """The device of each worker: round the ``devices``, so that several workers per device
    pack trials onto it; None for every worker without devices."""
    return [devices[index % len(devices)] if devices else None for index in range(n_jobs)]


def _work(
    spec: WorkerSpec,
    tickets: Synchronized[int],
    stop: Event,
    deadline: float | None,
    errors: multiprocessing.Queue[str],
) -> None:
    """A worker process: trials until the tickets, the time or the study's will run out."""
    signal.signal(signal.SIGTERM, _interrupted_by_sigterm)
    try:
        study = spec.open_study()
        runner = TrialRunner(study, spec.objective_here(), spec.catch)
        while not stop.is_set() and (deadline is None or time.time() < deadline):
            if study.sampler.is_exhausted(study):
                stop.set()
                break
            taken = _take_tickets(tickets, spec.fuse or 1)
            if not taken:
                break
            if spec.fuse is None:
                runner.run_one()
            else:  # the parent follows the storage and calls the callbacks
                runner.run_population(taken, lambda record: None)
    except KeyboardInterrupt:
        pass  # the running trial is already FAIL, "interrupted"
    except BaseException as error:
        errors.put(f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        stop.set()


def _interrupted_by_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("by SIGTERM")


def _take_tickets(tickets: Synchronized[int], wanted: int) -> int:
    """Take up to ``wanted`` trials of the budget; how many were taken (0: it is spent)."""
    with tickets.get_lock():
        if tickets.value == _UNLIMITED:
            return wanted
        taken = min(wanted, tickets.value)
        tickets.value -= taken
        return taken


def _report(
    records: Iterable[TrialRecord],
    on_finished: Callable[[TrialRecord], None],
    study: Study,
    stop: Event,
) -> None:
    for record in records:
        on_finished(record)
    if study.stop_requested:
        stop.set()


def _raise_worker_error(
    errors: multiprocessing.Queue[str], stop: Event, workers: list[Any]
) -> None:
    try:
        message = errors.get_nowait()
    except queue.Empty:
        return
    stop.set()
    for process in workers:
        process.join()
    raise WorkerError(f"a worker process stopped: {message}")


def _interrupt(workers: list[Any], stop: Event) -> None:
    """Ask every worker to fail its running trial and leave; wait for them, then make sure."""
    stop.set()
    for process in workers:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    waited_until = time.monotonic() + _STOP_GRACE_SECONDS
    for process in workers:
        process.join(max(0.0, waited_until - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join()


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set in this process while the block runs (a spawned child copies them)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
