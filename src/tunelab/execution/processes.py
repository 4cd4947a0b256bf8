"""``optimize(n_jobs=N)``: trials in N worker processes that share the study's storage.

Processes, not threads, so that CPU-bound objectives use every core (threads would share one
interpreter lock). Workers start from a launcher process that has the libraries imported
(:mod:`.launcher`), not forked from this one: a process forked after PyTorch has run its thread
pool hangs at its first parallel operation, so the objective must be picklable.

The trial budget is shared as tickets (:mod:`.tickets`): the workers together start exactly
``n_trials`` trials, retries included. The parent process runs no trials: it follows the
storage, calls the callbacks and the progress bar for every trial that finishes, and stops the
workers after their current trial when a callback calls ``study.stop()``, when a worker fails
with an error the study does not catch (then raised here as a :class:`WorkerError`), or on
Ctrl-C (each worker fails its running trial as interrupted, as the serial loop does). A stop
requested from any process (``request_stop``) reaches the workers through the storage: each reads
it before its next trial, and stops them all.

The parent also watches its workers. One that dies (killed by a signal, a non-zero exit code,
an error as it starts) is reported with how it ended and its last error; the trials it left
RUNNING are failed at once, without waiting for their heartbeats to stop (the parent knows which
trials a worker ran from their ``worker`` attribute), and queued again while the study's
``max_retries`` allows; the tickets it took without starting their trials go to the others. A
retry queued when the budget has no place left runs after it, before the call returns. When no
worker is left to run the budget (all died, for example as they started) the call raises a
:class:`WorkerError` that says what happened to each. Whichever way the call ends, none of its
trials is left RUNNING, and none of its workers outlives it: they die with it even when it is
killed (:mod:`.lifeline`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tunelab._attrs import RETRY_ATTR, WORKER_ATTR
from tunelab.devices import device_environment
from tunelab.exceptions import TunelabError
from tunelab.execution.child import WorkerMessage, run_worker
from tunelab.execution.launcher import (
    modules_in,
    start_launcher,
    thread_share_environment,
    worker_context,
)
from tunelab.execution.postmortem import MAIN_GUARD, death_text, how_it_ended, unguarded_main_call
from tunelab.execution.tickets import Tickets
from tunelab.execution.worker import FinishedTrials, WorkerSpec
from tunelab.heartbeat import fail_trials_of_dead_worker
from tunelab.trial import TrialRecord, TrialState, worker_name

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from tunelab.study import Study

_POLL_SECONDS = 0.2
_STOP_GRACE_SECONDS = 30.0  # how long workers get to fail their trial cleanly on Ctrl-C

logger = logging.getLogger("tunelab")


class WorkerError(TunelabError):
    """A worker process stopped on an error the study was not asked to catch, or no worker
    process is left to run the study's trials."""


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
    deadline = None if timeout is None else time.time() + timeout
    watcher = FinishedTrials(study)
    crew = _Crew(study, n_jobs, n_trials, deadline)
    try:
        crew.start(spec, worker_devices(n_jobs, devices))
        while crew.any_alive():
            time.sleep(_POLL_SECONDS)
            _report(watcher.new(), on_finished, crew)
            crew.look_after()
        crew.look_after()
        _report(watcher.new(), on_finished, crew)
        crew.check_finished()
    except KeyboardInterrupt:
        crew.interrupt()
        _report(watcher.new(), on_finished, crew)
        raise
    finally:
        crew.close()


def worker_devices(n_jobs: int, devices: Sequence[str] | None) -> list[str | None]:
    """The device of each worker: round the ``devices``, so that several workers per device
    pack trials onto it; None for every worker without devices."""
    return [devices[index % len(devices)] if devices else None for index in range(n_jobs)]


def _report(
    records: list[TrialRecord], on_finished: Callable[[TrialRecord], None], crew: _Crew
) -> None:
    for record in records:
        on_finished(record)
    if crew.study.stop_requested:
        crew.stop.set()


class _Crew:
    """The worker processes of one call, as their parent looks after them."""

    def __init__(
        self, study: Study, n_jobs: int, n_trials: int | None, deadline: float | None
    ) -> None:
        self.study = study
        self.deadline = deadline
        self.context = worker_context()
        self.tickets = Tickets(self.context, n_trials, n_jobs)
        self.stop = self.context.Event()
        self.messages: multiprocessing.Queue[WorkerMessage] = self.context.Queue()
        self.processes: list[BaseProcess] = []
        self.errors: dict[int, str] = {}  # the error each worker sent, if it sent one
        self.ended: set[int] = set()  # the workers whose end was looked at
        self.deaths: list[str] = []
        self.ran_trials = False  # whether any worker that ended had started a trial
        states = {r.number: r.state for r in study.trials}
        self.known = set(states)  # the trials before the call: its retries are the others
        self.started_before = {n for n, s in states.items() if s is not TrialState.WAITING}

    def start(self, spec: WorkerSpec, devices: list[str | None]) -> None:
        threads = thread_share_environment(len(devices))
        pickled = [pickle.dumps(spec.on_device(device)) for device in devices]
        start_launcher(len(devices), modules_in(pickled[0]))
        for index, device in enumerate(devices):
            environment = {**os.environ, **threads, **device_environment(device)}
            process = self.context.Process(
                target=run_worker,
                args=(index, pickled[index], environment, self.tickets, self.stop,
                      self.deadline, self.messages, os.getpid()),
                name=f"tunelab-worker-{index}",
                daemon=True,
            )
            process.start()
            self.processes.append(process)

    def any_alive(self) -> bool:
        return any(p.is_alive() for p in self.processes)

    def look_after(self) -> None:
        """Raise a trial's uncaught error; fail (and retry) the trials of workers that died
        and give their unspent tickets to the others; close the budget once it is settled."""
        exited = [
            index
            for index, process in enumerate(self.processes)
            if index not in self.ended and process.exitcode is not None
        ]
        error = self._read_messages()  # after the exits: what a worker sent comes before its end
        if error is not None:
            raise WorkerError(f"a worker process stopped: {error}")
        for index in exited:
            self._after_exit(index)
        if self.tickets.idle() and not self.tickets.closed:
            waiting = self._waiting_retries()
            if waiting:  # queued when no place was left in the budget: they run after it
                self.tickets.add(waiting)
            else:
                self.tickets.close()

    def check_finished(self) -> None:
        """A WorkerError if the workers are gone with trials of the budget left to run."""
        late = self.deadline is not None and time.time() >= self.deadline
        if self.tickets.closed or self.stop.is_set() or late:
            return
        message = "no worker process is left to run the study's trials: " + "; ".join(
            self.deaths or ["the workers left before the budget was spent, without an error"]
        )
        call = unguarded_main_call()
        if call is not None and not self.ran_trials:
            message += (
                f". The script calls optimize(n_jobs=...) at its top level ({call}), and each "
                "worker, a new Python process, starts by importing that script, so it calls "
                f"optimize again there and dies; put the code that runs the study under "
                f"`{MAIN_GUARD}`"
            )
        raise WorkerError(message + ".")

    def interrupt(self) -> None:
        """Ask every worker to fail its running trial and leave; wait for them, then make
        sure."""
        self.stop.set()
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)
        waited_until = time.monotonic() + _STOP_GRACE_SECONDS
        for process in self.processes:
            process.join(max(0.0, waited_until - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join()

    def close(self) -> None:
        """Let the workers finish their current trials and leave, and fail the trials of those
        that died: when the call returns, none of its trials runs."""
        self.stop.set()
        for process in self.processes:
            while process.exitcode is None:  # a worker leaves once what it sent has been read
                self._read_messages()  # the call already ends with an error, if one came
                process.join(_POLL_SECONDS)
        self._read_messages()
        for index in range(len(self.processes)):
            if index not in self.ended:
                self._after_exit(index)

    def _read_messages(self) -> str | None:
        """Keep each worker's last error; the first error from a trial, if one came."""
        from_trial = None
        while True:
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                return from_trial
            self.errors[message.worker] = message.error
            if message.in_trial and from_trial is None:
                from_trial = message.error

    def _after_exit(self, index: int) -> None:
        """Look at how worker ``index`` ended; if it died, fail and retry the trials it left
        running and give back the tickets it took without starting their trials."""
        self.ended.add(index)
        process = self.processes[index]
        name = worker_name(process.pid)
        trials = [
            r
            for r in self.study.trials
            if r.system_attrs.get(WORKER_ATTR) == name and r.number not in self.started_before
        ]
        running = [r for r in trials if r.state is TrialState.RUNNING]
        self.ran_trials = self.ran_trials or bool(trials)
        error = self.errors.get(index)
        if process.exitcode == 0 and not running and error is None:
            return
        reason = f"its worker process {process.pid} {how_it_ended(process.exitcode)}"
        retries = fail_trials_of_dead_worker(self.study, running, reason)
        self.tickets.reissue(index, max(0, self.tickets.taken_by(index) - len(trials)))
        death = death_text(
            index, process.pid, process.exitcode, len(trials) - len(running),
            [r.number for r in running], error,
        )
        self.deaths.append(death)
        requeued = f"; queued again as {', '.join(str(r.number) for r in retries)}"
        logger.warning("%s%s.", death[:1].upper() + death[1:], requeued if retries else "")

    def _waiting_retries(self) -> int:
        """How many retries queued during the call wait for a worker."""
        return sum(
            r.number not in self.known and RETRY_ATTR in r.system_attrs
            for r in self.study.get_trials([TrialState.WAITING])
        )
