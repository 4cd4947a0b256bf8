"""``Study.optimize``: check the call, then run the trials here (one at a time, or in threads
for a study kept in memory), in worker processes or on Dask.

Every way runs trials through a :class:`~tunelab.study.runner.TrialRunner` and reports each
finished trial to the callbacks and the progress bar in the calling process. Worker
processes and Dask live in :mod:`tunelab.execution`, imported only when a call asks for them.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.devices import check_devices
from tunelab.exceptions import ConfigError
from tunelab.heartbeat import StaleTrialWatch
from tunelab.storage import shared_url
from tunelab.study.runner import CatchTypes, Objective, TrialRunner, population_sizes
from tunelab.study.steering import stop_is_requested, stop_requests
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study

logger = logging.getLogger("tunelab")

Callback = Callable[["Study", TrialRecord], None]


def optimize(
    study: Study,
    objective: Objective,
    n_trials: int | None = None,
    timeout: float | None = None,
    callbacks: Iterable[Callback] | None = None,
    catch: CatchTypes | type[BaseException] = (Exception,),
    show_progress_bar: bool = False,
    n_jobs: int = 1,
    devices: Sequence[str] | None = None,
    executor: Any = None,
    fuse: int | None = None,
    gc_after_trial: bool = False,
) -> None:
    """Run ``objective`` on new trials until ``n_trials`` ran, ``timeout`` seconds passed,
    :meth:`Study.stop` was called, a stop was requested from any process
    (:func:`tunelab.study.request_stop`: the run starts no new trial, running ones finish), or
    the sampler has nothing left (a finished grid).

    An exception of a type in ``catch`` makes that trial FAIL and the study goes on; others
    propagate after the trial is marked FAIL. Ctrl-C marks the running trial FAIL and
    stops; finished trials are kept and a later call continues the numbering.

    ``n_jobs`` > 1 (-1: one per CPU core) runs trials in that many worker processes on
    the study's storage (a file or server), so the objective must be picklable; a study
    kept in memory, which other processes cannot see, runs them in that many threads of
    this process instead, as Optuna does (they overlap only where the objective releases
    the GIL: PyTorch, NumPy, scikit-learn, I/O); ``devices`` (e.g.
    ``["cuda:0", "cuda:1"]``) gives worker ``i`` the device ``devices[i % len(devices)]``,
    which the training engine's ``device: auto`` then uses (see :mod:`tunelab.execution`).
    ``executor``, a ``dask.distributed.Client``, runs each trial as a task on its Dask
    cluster instead (not with ``n_jobs`` or ``devices``; the workers must reach the
    storage; lambdas and closures travel; see :mod:`tunelab.execution.dask`). An error a
    worker's trial does not catch is raised here as a
    :class:`tunelab.execution.WorkerError`, as is the death of every worker process before
    the budget is spent (see :mod:`tunelab.execution.processes`).
    Callbacks and the progress bar run here. With heartbeats, the study's silent trials are
    failed every interval while the call runs.

    ``fuse`` = K asks the sampler for K trials at a time and trains those whose models
    share an architecture as one fused population (see :mod:`tunelab.torch.fused`); the
    objective must be a declarative training task (:class:`tunelab.torch.Task`). Each
    member is an ordinary trial; ``timeout`` is checked between populations. With
    ``n_jobs`` or ``devices``, each worker process trains its own populations (one per GPU
    with ``devices=["cuda:0", "cuda:1"]``).
    ``gc_after_trial=True`` runs Python's garbage collector after each trial run in this
    process, for objectives that leave reference cycles holding memory.
    """
    check_budget(n_trials, timeout)
    catch = _check_catch(catch)
    if fuse is not None:
        fuse = _check_fuse(study, fuse, objective, executor)
    if devices is not None:
        devices = check_devices(devices)
    if executor is not None:
        from tunelab.execution.dask import check_executor

        executor = check_executor(executor, n_jobs, devices)
    n_jobs = worker_count(n_jobs, devices)
    callback_list = list(callbacks or [])
    progress = _make_progress(show_progress_bar, n_trials, timeout, study)

    def on_finished(record: TrialRecord) -> None:
        if gc_after_trial:
            gc.collect()
        for callback in callback_list:
            callback(study, record)
        if progress is not None:
            progress.advance(record)

    study._stop_requested = False  # a stop asked during an earlier call is spent
    study.stop_requests_seen = stop_requests(study)  # so are those requested from elsewhere
    if n_trials is not None:  # a count, not len(study.trials): reading every trial costs
        study.trial_budget = study.storage.count_trials(study.study_id) + n_trials
    try:
        with StaleTrialWatch(study):  # trials that died elsewhere fail even if none starts here
            if executor is not None:
                from tunelab.execution import optimize_on_dask, worker_spec

                what = "optimize(executor=...)"
                spec = worker_spec(study, objective, catch, what, cloudpickle=True)
                optimize_on_dask(study, spec, executor, n_trials, timeout, on_finished)
            elif n_jobs == 1 and devices is None:
                runner = TrialRunner(study, objective, catch)
                _optimize_here(runner, fuse, n_trials, timeout, on_finished)
            elif devices is None and fuse is None and (why := _why_threads(study, objective)):
                runners = [TrialRunner(study, objective, catch) for _ in range(n_jobs)]
                _optimize_in_threads(runners, n_trials, timeout, on_finished, why)
            else:
                from tunelab.execution import optimize_in_processes, worker_spec

                spec = worker_spec(study, objective, catch, "optimize(n_jobs=...)", fuse=fuse)
                optimize_in_processes(
                    study, spec, n_jobs, n_trials, timeout, devices, on_finished
                )
    finally:
        study.trial_budget = None
        study.stop_requests_seen = None
        if progress is not None:
            progress.close()


def _optimize_here(
    runner: TrialRunner,
    fuse: int | None,
    n_trials: int | None,
    timeout: float | None,
    on_finished: Callable[[TrialRecord], None],
) -> None:
    """Trials one at a time in this process, or up to ``fuse`` at a time as one population
    (all ``n_trials`` in one when they fit)."""
    if fuse is None or (n_trials is not None and n_trials <= fuse):
        sizes: Iterator[int] = itertools.repeat(fuse or 1)
    else:
        sizes = population_sizes(fuse)
    for size in batches(runner.study, n_trials, timeout, sizes):
        if fuse is None:
            on_finished(runner.run_one())
        else:
            runner.run_population(size, on_finished)


def _optimize_in_threads(
    runners: Sequence[TrialRunner],
    n_trials: int | None,
    timeout: float | None,
    on_finished: Callable[[TrialRecord], None],
    why: str,
) -> None:
    """Trials in one thread per runner, sharing the budget; the first error a runner raises
    stops the others from starting trials and is raised here once they have finished."""
    study = runners[0].study
    deadline = None if timeout is None else time.monotonic() + timeout
    lock = threading.Lock()
    started = 0
    errors: list[BaseException] = []

    def claim() -> bool:
        nonlocal started
        with lock:
            if errors or not may_start(study, started, n_trials, deadline):
                return False
            started += 1
            return True

    def work(runner: TrialRunner) -> None:
        try:
            while claim():
                record = runner.run_one()
                with lock:
                    on_finished(record)
        except BaseException as error:
            with lock:
                errors.append(error)

    threads = [
        threading.Thread(target=work, args=(runner,), name=f"tunelab-trials-{i}", daemon=True)
        for i, runner in enumerate(runners)
    ]
    logger.info("Running trials in %d threads: %s.", len(threads), why)
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt as interrupt:  # no new trials; the running ones end as they do
        with lock:
            errors.insert(0, interrupt)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def _why_threads(study: Study, objective: Objective) -> str | None:
    """Why ``n_jobs`` runs threads rather than worker processes here, or None. A study in
    memory is reason enough; any other reason is also a warning, since processes would
    use every core."""
    from tunelab.execution import why_not_processes

    why = why_not_processes(study, objective, "optimize(n_jobs=...)")
    if why is not None and shared_url(study.storage) is not None:
        warnings.warn(f"optimize(n_jobs=...) runs trials in threads: {why}.", stacklevel=3)
    return why


def batches(
    study: Study, n_trials: int | None, timeout: float | None, sizes: Iterator[int]
) -> Iterator[int]:
    """How many trials to start next, batch after batch (the next of ``sizes`` or what the
    budget leaves), until the budget is spent, a stop is requested or the sampler is done."""
    deadline = None if timeout is None else time.monotonic() + timeout
    done = 0
    while may_start(study, done, n_trials, deadline):
        size = next(sizes)
        batch = size if n_trials is None else min(size, n_trials - done)
        yield batch
        done += batch


def may_start(
    study: Study, started: int, n_trials: int | None, deadline: float | None
) -> bool:
    """Whether a run that started ``started`` trials may start another one."""
    if study.stop_requested:
        return False
    if stop_is_requested(study):
        logger.info("A stop of the study's runs was requested; starting no more trials.")
        return False
    if n_trials is not None and started >= n_trials:
        return False
    if deadline is not None and time.monotonic() >= deadline:
        return False
    if study.sampler.is_exhausted(study):
        logger.info("The sampler has visited its whole search space; stopping.")
        return False
    return True


def check_budget(n_trials: Any, timeout: Any) -> None:
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0
    ):
        raise ConfigError(f"n_trials={n_trials!r} must be a non-negative integer or None.")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        raise ConfigError(f"timeout={timeout!r} must be a positive number of seconds or None.")


def _check_catch(catch: Any) -> CatchTypes:
    """``catch`` as a tuple of exception classes: one class or any iterable of them."""
    caught = (catch,) if isinstance(catch, type) else catch
    try:
        caught = tuple(caught)
    except TypeError:
        caught = (caught,)
    if not all(isinstance(c, type) and issubclass(c, BaseException) for c in caught):
        raise ConfigError(
            f"catch={catch!r}: give the exception classes that should fail only their trial, "
            "e.g. catch=(ValueError,), or catch=() to stop at any error.",
            field="catch",
        )
    return caught


def worker_count(n_jobs: Any, devices: Sequence[str] | None) -> int:
    """The number of worker processes: ``-1`` means one per core; with ``devices`` and the
    default of 1, one per device."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ConfigError(
            f"n_jobs={n_jobs!r} must be a positive number of worker processes, or -1 for one "
            "per CPU core.",
            field="n_jobs",
        )
    if n_jobs == -1:
        return os.cpu_count() or 1
    if devices is not None and n_jobs == 1:
        return len(devices)
    return n_jobs


def _check_fuse(study: Study, fuse: Any, objective: Any, executor: Any) -> int:
    if isinstance(fuse, bool) or not isinstance(fuse, int) or fuse < 1:
        raise ConfigError(
            f"optimize(fuse={fuse!r}): fuse is how many trials train together; use a "
            "positive integer such as 32.",
            field="fuse",
        )
    if not callable(getattr(objective, "fit_group", None)):
        name = getattr(objective, "__qualname__", type(objective).__name__)
        raise ConfigError(
            f"optimize(fuse=...) fuses the trials of a declarative training task, and the "
            f"objective {name} is not one: pass a tunelab.torch.Task, or leave out fuse.",
            field="fuse",
        )
    if executor is not None:
        raise ConfigError(
            "optimize(fuse=...) trains populations in this process or in worker processes "
            "(n_jobs, devices), not on a Dask cluster; leave out executor or fuse.",
            field="fuse",
        )
    if study.pruner.resumes_paused:
        raise ConfigError(
            f"optimize(fuse=...): the pruner {type(study.pruner).__name__} continues paused "
            "trials from checkpoints, which fused members do not write; use a pruner that "
            "stops trials (asha, median, hyperband without promote_paused) or leave out "
            "fuse.",
            field="fuse",
        )
    return fuse


def _make_progress(
    show: bool, n_trials: int | None, timeout: float | None, study: Study
) -> Any:
    if not show:
        return None
    from tunelab.progress import TrialProgress

    return TrialProgress(study, n_trials, timeout)
