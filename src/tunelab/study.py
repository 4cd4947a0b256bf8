"""Studies: create or load one, run an objective many times, and read the results.

The API follows Optuna's names (``create_study``, ``optimize``, ``ask``/``tell``,
``best_trial``) so that code moves over by changing the import; ``ask(n)`` and named
metrics go further in the same style.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, overload

from tunelab._attrs import FIXED_PARAMS_ATTR, HEARTBEAT_ATTR, WORKER_ATTR
from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError, StudyNotFoundError, TrialPruned, TunelabError
from tunelab.heartbeat import Heartbeat, HeartbeatSettings, recover_stale_trials
from tunelab.pruners import BasePruner, make_pruner
from tunelab.registry import did_you_mean
from tunelab.samplers import BaseSampler, make_sampler
from tunelab.storage import BaseStorage, StudySummary, make_storage
from tunelab.storage.base import StudyInfo
from tunelab.trial import Resume, Trial, TrialRecord, TrialState, check_values, worker_name

logger = logging.getLogger("tunelab")

Objective = Callable[[Trial], Any]
Callback = Callable[["Study", TrialRecord], None]
DIRECTIONS = ("minimize", "maximize")


class Study:
    """A named search: its trials live in ``storage``; ``sampler`` and ``pruner`` steer it.

    Build one with :func:`create_study` or :func:`load_study` rather than directly.
    """

    def __init__(
        self, info: StudyInfo, storage: BaseStorage, sampler: BaseSampler, pruner: BasePruner
    ) -> None:
        self._info = info
        self.storage = storage
        self.sampler = sampler
        self.pruner = pruner
        self._live: dict[int, Trial] = {}
        self._stop_requested = False
        self.heartbeat = HeartbeatSettings.from_attrs(info.system_attrs)
        """Heartbeat settings (``create_study(heartbeat_interval=...)``), kept in the storage."""
        self._stale_checked_at = -math.inf
        self.trial_budget: int | None = None
        """While :meth:`optimize` runs with ``n_trials``: how many trials the study will hold
        when it ends (those before the call included); None otherwise. Samplers may read it."""

    # Identity --------------------------------------------------------------------------

    @property
    def study_name(self) -> str:
        return self._info.name

    @property
    def study_id(self) -> int:
        return self._info.study_id

    @property
    def directions(self) -> tuple[str, ...]:
        return self._info.directions

    @property
    def direction(self) -> str:
        """The direction of a single-objective study."""
        if len(self.directions) != 1:
            raise TunelabError(
                f"study {self.study_name!r} has {len(self.directions)} objectives; use .directions."
            )
        return self.directions[0]

    @property
    def metric_names(self) -> tuple[str, ...] | None:
        return self._info.metric_names

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The metric names, else ``("value",)`` or ``("value_0", "value_1", ...)``."""
        if self.metric_names:
            return self.metric_names
        if len(self.directions) == 1:
            return ("value",)
        return tuple(f"value_{i}" for i in range(len(self.directions)))

    @property
    def created_at(self) -> datetime:
        return self._info.created_at

    # Ask and tell ----------------------------------------------------------------------

    @overload
    def ask(self) -> Trial: ...

    @overload
    def ask(self, n: int) -> list[Trial]: ...

    def ask(self, n: int | None = None) -> Trial | list[Trial]:
        """Start one trial, or a batch of ``n`` whose values the sampler chooses together.

        Enqueued trials are handed out first, each to exactly one caller.
        """
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise TunelabError(f"ask(n={n!r}): n must be a positive integer.")
        trials = [self._start_trial() for _ in range(n or 1)]
        space = self.sampler.infer_relative_search_space(self)
        if space:
            batch = self.sampler.sample_relative_batch(self, trials, space)
            for trial, params in zip(trials, batch):
                trial.set_relative(space, params)
        return trials if n is not None else trials[0]

    def _start_trial(self) -> Trial:
        self._recover_stale_trials()
        continuation = self.pruner.next_trial(self)
        worker = {WORKER_ATTR: worker_name()}  # written with the trial: no extra write
        if continuation is not None:  # ahead of enqueued trials: it carries trained weights
            record = self.storage.create_trial(
                self.study_id,
                TrialState.RUNNING,
                system_attrs={**continuation.system_attrs(), **worker},
            )
        else:
            record = self.storage.start_trial(self.study_id, worker)
        resume = Resume.of(record)
        fixed = record.system_attrs.get(FIXED_PARAMS_ATTR)
        trial = Trial(self, record.trial_id, record.number, fixed, resume)
        if resume is not None and not record.intermediate_values:
            source = self.storage.get_trial(resume.trial_id)
            trial.inherit_curve(
                {s: v for s, v in source.intermediate_values.items() if s <= resume.step}
            )
        self._live[record.number] = trial
        return trial

    def _recover_stale_trials(self) -> None:
        """With heartbeats, fail (and retry) trials whose workers died; at most once an
        interval per process, since it is a query."""
        if self.heartbeat is None or time.monotonic() - self._stale_checked_at < self.heartbeat.interval:
            return
        self._stale_checked_at = time.monotonic()
        recover_stale_trials(self, self.heartbeat)

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        state: TrialState | str | None = None,
        fail_reason: str | None = None,
    ) -> TrialRecord:
        """Finish a trial: COMPLETE with ``values``, or PRUNED / FAIL (with ``fail_reason``).

        Values that are not finite numbers, or not one per objective, make the trial FAIL
        with the reason stored, so that one bad trial never stops a study.
        """
        live = self._resolve(trial)
        state = TrialState(state) if state is not None else TrialState.COMPLETE
        if not state.is_finished:
            raise TunelabError(f"tell(state={state.value}): use COMPLETE, PRUNED or FAIL.")
        checked: tuple[float, ...] | None = None
        if state is TrialState.COMPLETE:
            checked, problem = check_values(values, len(self.directions))
            if problem is not None:
                state, fail_reason = TrialState.FAIL, problem
        try:
            self.sampler.before_finish(self, live, state, checked)
        except Exception as error:
            # A broken constraints function, say: the trial must not stay RUNNING forever.
            self._finish(live, TrialState.FAIL, None, f"{type(error).__name__}: {error}")
            raise
        return self._finish(live, state, checked, fail_reason)

    def _finish(
        self,
        live: Trial | int,
        state: TrialState,
        values: tuple[float, ...] | None,
        fail_reason: str | None,
    ) -> TrialRecord:
        params = live.take_params_for_final_write() if isinstance(live, Trial) else None
        trial_id = live.trial_id if isinstance(live, Trial) else live
        record = self.storage.finish_trial(trial_id, state, values, fail_reason, params)
        if isinstance(live, Trial):
            live.mark_finished()
        self._live.pop(record.number, None)
        self.sampler.after_trial(self, record)
        self._log_finished(record)
        return record

    def _resolve(self, trial: Trial | int) -> Trial | int:
        """The live Trial object if this process asked for it, else the stored trial's id."""
        if isinstance(trial, Trial):
            return trial
        if trial in self._live:
            return self._live[trial]
        for record in self.storage.get_trials(self.study_id, (TrialState.RUNNING,)):
            if record.number == trial:
                return record.trial_id
        raise TunelabError(f"tell(): trial number {trial!r} is not a running trial of this study.")

    def enqueue_trial(
        self, params: Mapping[str, Any], user_attrs: Mapping[str, Any] | None = None
    ) -> int:
        """Queue a trial with fixed parameters; it runs before any sampled trial. Returns its number."""
        for name, value in params.items():
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise TunelabError(
                    f"enqueue_trial: {name}={value!r} is a {type(value).__name__}; parameters are "
                    "JSON scalars (None, bool, int, float, str)."
                )
        record = self.storage.create_trial(
            self.study_id,
            TrialState.WAITING,
            system_attrs={FIXED_PARAMS_ATTR: dict(params)},
            user_attrs=user_attrs,
        )
        return record.number

    # Optimize --------------------------------------------------------------------------

    def optimize(
        self,
        objective: Objective,
        n_trials: int | None = None,
        timeout: float | None = None,
        callbacks: Iterable[Callback] | None = None,
        catch: tuple[type[BaseException], ...] = (Exception,),
        show_progress_bar: bool = False,
        n_jobs: int = 1,
        devices: Sequence[str] | None = None,
        executor: Any = None,
        fuse: int | None = None,
    ) -> None:
        """Run ``objective`` on new trials until ``n_trials`` ran, ``timeout`` seconds passed,
        :meth:`stop` was called, or the sampler has nothing left (a finished grid).

        An exception of a type in ``catch`` makes that trial FAIL and the study goes on; others
        propagate after the trial is marked FAIL. Ctrl-C marks the running trial FAIL and
        stops; finished trials are kept and a later call continues the numbering.

        ``n_jobs`` > 1 (-1: one per CPU core) runs trials in that many worker processes on
        the study's storage (a file or server, not memory), so the objective must be
        picklable; ``devices`` (e.g. ``["cuda:0", "cuda:1"]``) gives worker ``i`` the device
        ``devices[i % len(devices)]``, which the training engine's ``device: auto`` then
        uses (see :mod:`tunelab.execution`). ``executor``, a ``dask.distributed.Client``,
        runs each trial as a task on its Dask cluster instead (not with ``n_jobs`` or
        ``devices``; the workers must reach the storage; lambdas and closures travel; see
        :mod:`tunelab.execution.dask`). An error a worker's trial does not catch is raised
        here as a :class:`tunelab.execution.WorkerError`. Callbacks and the progress bar run
        here.

        ``fuse`` = K asks the sampler for K trials at a time and trains those whose models
        share an architecture as one fused population (see :mod:`tunelab.torch.fused`); the
        objective must be a declarative training task (:class:`tunelab.torch.Task`). Each
        member is an ordinary trial; ``timeout`` is checked between populations. With
        ``n_jobs`` or ``devices``, each worker process trains its own populations (one per GPU
        with ``devices=["cuda:0", "cuda:1"]``).
        """
        _check_budget(n_trials, timeout)
        if fuse is not None:
            fuse = self._check_fuse(fuse, objective, executor)
        if executor is not None:
            from tunelab.execution.dask import check_executor

            executor = check_executor(executor, n_jobs, devices)
        n_jobs = _check_n_jobs(n_jobs, devices)
        callbacks = list(callbacks or [])
        progress = _make_progress(show_progress_bar, n_trials, timeout, self)
        self._stop_requested = False
        if n_trials is not None:
            self.trial_budget = len(self.trials) + n_trials

        def on_finished(record: TrialRecord) -> None:
            for callback in callbacks:
                callback(self, record)
            if progress is not None:
                progress.advance(record)

        try:
            if executor is not None:
                from tunelab.execution import worker_spec
                from tunelab.execution.dask import optimize_on_dask

                what = "optimize(executor=...)"
                spec = worker_spec(self, objective, catch, what, cloudpickle=True)
                optimize_on_dask(self, spec, executor, n_trials, timeout, on_finished)
            elif n_jobs == 1 and devices is None and fuse is not None:
                self._optimize_fused(objective, fuse, n_trials, timeout, catch, on_finished)
            elif n_jobs == 1 and devices is None:
                self._optimize_here(objective, n_trials, timeout, catch, on_finished)
            else:
                from tunelab.execution import optimize_in_processes, worker_spec

                spec = worker_spec(self, objective, catch, "optimize(n_jobs=...)", fuse=fuse)
                optimize_in_processes(self, spec, n_jobs, n_trials, timeout, devices, on_finished)
        finally:
            self.trial_budget = None
            if progress is not None:
                progress.close()

    def _optimize_here(
        self,
        objective: Objective,
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type[BaseException], ...],
        on_finished: Callable[[TrialRecord], None],
    ) -> None:
        for _ in self._batches(n_trials, timeout, 1):
            on_finished(self._run_trial(objective, catch))

    def _batches(self, n_trials: int | None, timeout: float | None, size: int) -> Iterator[int]:
        """How many trials to start next, batch after batch (``size`` or what the budget
        leaves), until the budget is spent, :meth:`stop` is called or the sampler is done."""
        started = time.monotonic()
        done = 0
        while not self._stop_requested:
            if n_trials is not None and done >= n_trials:
                return
            if timeout is not None and time.monotonic() - started >= timeout:
                return
            if self.sampler.is_exhausted(self):
                logger.info("The sampler has visited its whole search space; stopping.")
                return
            batch = size if n_trials is None else min(size, n_trials - done)
            yield batch
            done += batch

    def _run_trial(self, objective: Objective, catch: tuple[type[BaseException], ...]) -> TrialRecord:
        trial = self.ask()
        try:
            with self._heartbeats([trial]):
                returned = objective(trial)
        except BaseException as error:
            record = self._tell_outcome(trial, error)
            if not _caught(error, catch):
                raise
            return record
        return self.tell(trial, returned)

    def _tell_outcome(self, trial: Trial, outcome: Any) -> TrialRecord:
        """Finish a trial with what its objective returned or raised: values, a prune, or a
        failure with the error as its reason."""
        if isinstance(outcome, TrialPruned):
            return self.tell(trial, state=TrialState.PRUNED, fail_reason=str(outcome) or None)
        if isinstance(outcome, KeyboardInterrupt):
            how = str(outcome) or "by the user (Ctrl-C)"  # workers say which signal
            return self.tell(trial, state=TrialState.FAIL, fail_reason=f"interrupted {how}")
        if isinstance(outcome, BaseException):
            logger.debug("Trial %d raised:", trial.number, exc_info=outcome)
            reason = f"{type(outcome).__name__}: {outcome}"
            return self.tell(trial, state=TrialState.FAIL, fail_reason=reason)
        return self.tell(trial, outcome)

    def _heartbeats(self, trials: Sequence[Trial]) -> contextlib.ExitStack:
        """A context in which the running ``trials`` beat, when the study uses heartbeats."""
        stack = contextlib.ExitStack()
        if self.heartbeat is not None:
            for trial in trials:
                stack.enter_context(Heartbeat(trial, self.heartbeat.interval))
        return stack

    def _check_fuse(self, fuse: Any, objective: Any, executor: Any) -> int:
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
        if self.pruner.resumes_paused:
            raise ConfigError(
                f"optimize(fuse=...): the pruner {type(self.pruner).__name__} continues paused "
                "trials from checkpoints, which fused members do not write; use a pruner that "
                "stops trials (asha, median, hyperband without promote_paused) or leave out "
                "fuse.",
                field="fuse",
            )
        return fuse

    def _optimize_fused(
        self,
        task: Any,
        fuse: int,
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type[BaseException], ...],
        on_finished: Callable[[TrialRecord], None],
    ) -> None:
        for size in self._batches(n_trials, timeout, fuse):
            self._run_group(task, self.ask(size), catch, on_finished)

    def _run_group(
        self,
        task: Any,
        trials: list[Trial],
        catch: tuple[type[BaseException], ...],
        on_finished: Callable[[TrialRecord], None],
    ) -> None:
        """Let ``task.fit_group`` train ``trials`` together; each is told as it finishes."""
        running = {trial.number: trial for trial in trials}
        uncaught: list[BaseException] = []

        def finish(trial: Trial, outcome: Any) -> None:
            del running[trial.number]
            on_finished(self._tell_outcome(trial, outcome))
            if isinstance(outcome, BaseException) and not _caught(outcome, catch):
                uncaught.append(outcome)

        try:
            with self._heartbeats(trials):
                task.fit_group(trials, finish)
        except BaseException as error:
            for trial in list(running.values()):
                finish(trial, error)
            raise
        assert not running, f"fit_group left trials {sorted(running)} running"
        if uncaught:
            raise uncaught[0]

    def stop(self) -> None:
        """Ask :meth:`optimize` to stop after the running trial (or trials, with n_jobs)."""
        self._stop_requested = True

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    # Results ---------------------------------------------------------------------------

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, in number order."""
        return self.storage.get_trials(self.study_id)

    def get_trials(self, states: Iterable[TrialState] | None = None) -> list[TrialRecord]:
        return self.storage.get_trials(self.study_id, states)

    @property
    def best_trial(self) -> TrialRecord:
        """The feasible completed trial with the best value (single objective)."""
        maximize = self.direction == "maximize"
        completed = self._feasible_completed()
        if not completed:
            raise TunelabError(
                f"study {self.study_name!r} has no completed trial that satisfies its "
                "constraints yet."
            )
        pick = max if maximize else min
        return pick(completed, key=lambda r: r.values[0])  # type: ignore[index]

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The Pareto front: feasible completed trials that no other feasible completed trial
        dominates. Trials without constraint values are feasible."""
        completed = self._feasible_completed()
        signs = [1.0 if d == "minimize" else -1.0 for d in self.directions]
        points = [tuple(s * v for s, v in zip(signs, r.values or ())) for r in completed]
        return [
            record
            for record, point in zip(completed, points)
            if not any(_dominates(other, point) for other in points)
        ]

    def _feasible_completed(self) -> list[TrialRecord]:
        return [r for r in self.get_trials((TrialState.COMPLETE,)) if is_feasible(r)]

    def trials_dataframe(self) -> Any:
        """A pandas DataFrame with one row per trial: number, state, values, params, attrs."""
        from tunelab.dataframe import trials_dataframe

        return trials_dataframe(self)

    def __repr__(self) -> str:
        return f"Study(name={self.study_name!r}, directions={list(self.directions)})"

    def _log_finished(self, record: TrialRecord) -> None:
        if record.state is TrialState.COMPLETE:
            logger.info(
                "Trial %d finished with values %s and parameters %s.",
                record.number,
                list(record.values or ()),
                dict(record.params),
            )
        elif record.state is TrialState.FAIL:
            logger.warning("Trial %d failed: %s", record.number, record.fail_reason)


def _caught(error: BaseException, catch: tuple[type[BaseException], ...]) -> bool:
    """Whether an objective's exception ends only its trial (a prune, or a type in ``catch``)
    rather than the whole run."""
    return isinstance(error, (TrialPruned, *catch))


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def _check_budget(n_trials: int | None, timeout: float | None) -> None:
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0):
        raise ConfigError(f"n_trials={n_trials!r} must be a non-negative integer or None.")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"timeout={timeout!r} must be a positive number of seconds or None.")


def _check_n_jobs(n_jobs: Any, devices: Sequence[str] | None) -> int:
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


def _make_progress(show: bool, n_trials: int | None, timeout: float | None, study: Study) -> Any:
    if not show:
        return None
    from tunelab.progress import TrialProgress

    return TrialProgress(study, n_trials, timeout)


def check_direction(value: Any) -> str:
    """``"minimize"`` or ``"maximize"`` (in any case); a :class:`ConfigError` otherwise."""
    if isinstance(value, str) and value.lower() in DIRECTIONS:
        return value.lower()
    raise ConfigError(
        f"{value!r} is not a direction{did_you_mean(str(value).lower(), DIRECTIONS)}; "
        "use 'minimize' or 'maximize'."
    )


def _check_directions(
    direction: str | None, directions: Sequence[str] | None, metric_names: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if direction is not None and directions is not None:
        raise ConfigError("give either direction or directions, not both.")
    chosen = [direction or "minimize"] if directions is None else list(directions)
    if isinstance(directions, str) or not chosen:
        raise ConfigError("directions must be a non-empty list such as ['minimize', 'maximize'].")
    normalised = [check_direction(item) for item in chosen]
    names = None
    if metric_names is not None:
        names = tuple(metric_names)
        if isinstance(metric_names, str) or len(names) != len(normalised):
            raise ConfigError(
                f"metric_names={metric_names!r} must give one name per objective "
                f"({len(normalised)})."
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"metric_names={list(names)!r} has duplicates; name each objective once.")
    return tuple(normalised), names


def create_study(
    name: str | None = None,
    storage: str | BaseStorage | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    sampler: str | Mapping[str, Any] | BaseSampler | None = None,
    pruner: str | Mapping[str, Any] | BasePruner | None = None,
    load_if_exists: bool = False,
    seed: int | None = None,
    metric_names: Sequence[str] | None = None,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    max_retries: int = 0,
) -> Study:
    """Create a study (or load it, with ``load_if_exists=True``).

    Args:
        name: unique within the storage; a random name if omitted.
        storage: ``sqlite:///file.db``, ``postgresql://...``, ``memory`` or a storage object;
            in memory if omitted.
        direction: ``"minimize"`` (default) or ``"maximize"``.
        directions: one per objective, for multi-objective studies.
        sampler: a name (``"auto"``, the default; ``"tpe"``, ``"random"``, ``"grid"``, ...),
            ``{"name": ..., options}`` or a sampler object.
        pruner: a name (``"none"``, ``"median"``, ``"percentile"``), a mapping or an object.
        seed: seeds a sampler built from a name.
        metric_names: names of the objectives, shown in tables and plots.
        heartbeat_interval: seconds between the heartbeats of a running trial; with it, a
            trial whose worker died (killed, machine lost) is failed once ``grace_period``
            seconds (default: twice the interval) pass without one, and queued again up to
            ``max_retries`` times (see :mod:`tunelab.heartbeat`). Stored with the study, so
            every process working on it follows it.
    """
    checked_directions, names = _check_directions(direction, directions, metric_names)
    heartbeat = HeartbeatSettings.checked(heartbeat_interval, grace_period, max_retries)
    sampler_obj = make_sampler(sampler, seed=seed)
    pruner_obj = make_pruner(pruner, seed=seed)
    store = make_storage(storage)
    study_name = name or f"study-{uuid.uuid4().hex[:8]}"
    if load_if_exists:
        try:
            info = store.get_study(study_name)
        except StudyNotFoundError:
            pass
        else:
            if info.directions != checked_directions:
                raise ConfigError(
                    f"study {study_name!r} exists with directions {list(info.directions)}, not "
                    f"{list(checked_directions)}; use the same directions or another name."
                )
            return Study(_with_heartbeat(store, info, heartbeat), store, sampler_obj, pruner_obj)
    info = store.create_study(study_name, checked_directions, names)
    return Study(_with_heartbeat(store, info, heartbeat), store, sampler_obj, pruner_obj)


def _with_heartbeat(
    store: BaseStorage, info: StudyInfo, heartbeat: HeartbeatSettings | None
) -> StudyInfo:
    """``info`` after storing the heartbeat settings given to create_study, if any."""
    if heartbeat is None:
        return info
    store.set_study_system_attr(info.study_id, HEARTBEAT_ATTR, heartbeat.to_json())
    return store.get_study(info.name)


def load_study(
    name: str,
    storage: str | BaseStorage,
    sampler: str | Mapping[str, Any] | BaseSampler | None = None,
    pruner: str | Mapping[str, Any] | BasePruner | None = None,
    seed: int | None = None,
) -> Study:
    """Open an existing study; :class:`StudyNotFoundError` if there is none of that name."""
    store = make_storage(storage)
    return Study(store.get_study(name), store, make_sampler(sampler, seed=seed), make_pruner(pruner, seed=seed))


def delete_study(name: str, storage: str | BaseStorage) -> None:
    """Remove a study and all its trials from the storage."""
    store = make_storage(storage)
    store.delete_study(store.get_study(name).study_id)


def list_studies(storage: str | BaseStorage) -> list[StudySummary]:
    """A summary (trial counts per state, best value) of every study in the storage."""
    return make_storage(storage).list_studies()
