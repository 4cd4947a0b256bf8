"""The study: ask for trials and tell their results, run an objective many times, read results.

The API follows Optuna's names (``create_study``, ``optimize``, ``ask``/``tell``,
``best_trial``) so that code moves over by changing the import; ``ask(n)`` and named
metrics go further in the same style.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, overload

from tunelab._attrs import FIXED_PARAMS_ATTR, PRUNER_ATTR, WORKER_ATTR
from tunelab.exceptions import TunelabError
from tunelab.heartbeat import HeartbeatSettings, recover_stale_trials
from tunelab.pruners import BasePruner, pruner_name
from tunelab.pruners.nop import NopPruner
from tunelab.samplers import BaseSampler
from tunelab.space import Distribution
from tunelab.storage import BaseStorage
from tunelab.storage.base import StudyInfo
from tunelab.study._results import StudyResults
from tunelab.study.optimize import optimize
from tunelab.trial import (
    Resume,
    Trial,
    TrialRecord,
    TrialState,
    addable_trial,
    check_values,
    worker_name,
)

logger = logging.getLogger("tunelab")


class Study(StudyResults):
    """A named search: its trials live in ``storage``; ``sampler`` and ``pruner`` steer it.

    Build one with :func:`create_study` or :func:`load_study` rather than directly.
    """

    def __init__(
        self, info: StudyInfo, storage: BaseStorage, sampler: BaseSampler, pruner: BasePruner
    ) -> None:
        super().__init__(info, storage)
        self.sampler = sampler
        self.pruner = pruner
        self._live: dict[int, Trial] = {}
        self._stop_requested = False
        self.heartbeat = HeartbeatSettings.from_attrs(info.system_attrs)
        """Heartbeat settings (``create_study(heartbeat_interval=...)``), kept in the storage."""
        self._stale_checked_at = -math.inf
        self._warned_cannot_prune = False
        self._recorded_pruner: BasePruner | None = None
        self.trial_budget: int | None = None
        """While :meth:`optimize` runs with ``n_trials``: how many trials the study will hold
        when it ends (those before the call included); None otherwise. Samplers may read it."""
        self.stop_requests_seen: int | None = None
        """While :meth:`optimize` runs: how many stops had been requested on the study
        (:func:`tunelab.study.request_stop`) when the call started; a larger count in the
        storage stops the run. None otherwise."""

    # Ask and tell ----------------------------------------------------------------------

    @overload
    def ask(
        self,
        n: Mapping[str, Distribution] | None = None,
        fixed_distributions: Mapping[str, Distribution] | None = None,
    ) -> Trial: ...

    @overload
    def ask(
        self, n: int, fixed_distributions: Mapping[str, Distribution] | None = None
    ) -> list[Trial]: ...

    def ask(
        self,
        n: int | Mapping[str, Distribution] | None = None,
        fixed_distributions: Mapping[str, Distribution] | None = None,
    ) -> Trial | list[Trial]:
        """Start one trial, or a batch of ``n`` whose values the sampler chooses together.

        Enqueued trials are handed out first, each to exactly one caller. Each parameter of
        ``fixed_distributions`` (``{name: distribution}``) is suggested at once, as if the
        objective had asked for it; Optuna's ``ask(distributions)`` passes it first.
        """
        if n is not None and not isinstance(n, int):
            if not isinstance(n, Mapping):
                raise TunelabError(f"ask(n={n!r}): n must be a positive integer.")
            if fixed_distributions is not None:
                raise TunelabError(
                    "ask(): the distributions are given twice; give them once, first or as "
                    "fixed_distributions=..."
                )
            n, fixed_distributions = None, n
        if n is not None and (isinstance(n, bool) or n < 1):
            raise TunelabError(f"ask(n={n!r}): n must be a positive integer.")
        trials = [self._start_trial() for _ in range(n or 1)]
        for trial in trials:
            self.sampler.before_trial(self, trial)
        space = self.sampler.infer_relative_search_space(self, trials[0])
        if space:
            batch = self.sampler.sample_relative_batch(self, trials, space)
            for trial, params in zip(trials, batch):
                trial._set_relative(space, params)
        for name, distribution in (fixed_distributions or {}).items():
            for trial in trials:
                trial._suggest(name, distribution)
        return trials if n is not None else trials[0]

    def _start_trial(self) -> Trial:
        self._recover_stale_trials()
        self._record_pruner()
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
            trial._inherit_curve(
                {s: v for s, v in source.intermediate_values.items() if s <= resume.step}
            )
        self._live[record.number] = trial
        return trial

    def _record_pruner(self) -> None:
        """Keep the name of the pruner that judges the trials with the study (system attribute
        ``pruner``): what reads the study from its storage alone, the doctor, learns from it
        which rule ran. One write per pruner object, none if the study keeps its name already."""
        if self.pruner is self._recorded_pruner:
            return
        self._recorded_pruner = self.pruner
        name = pruner_name(self.pruner)
        if self._info.system_attrs.get(PRUNER_ATTR) == name:
            return
        self.storage.set_study_system_attr(self.study_id, PRUNER_ATTR, name)
        attrs = {**self._info.system_attrs, PRUNER_ATTR: name}
        self._info = dataclasses.replace(self._info, system_attrs=attrs)

    def _pruner_name(self) -> str:
        """What a trial records when it first asks the pruner (system attribute
        ``pruner_consulted``)."""
        return pruner_name(self.pruner)

    def _recover_stale_trials(self) -> None:
        """With heartbeats, fail (and retry) trials whose workers died; at most once an
        interval per process, since it is a query."""
        now = time.monotonic()
        if self.heartbeat is None or now - self._stale_checked_at < self.heartbeat.interval:
            return
        self._stale_checked_at = now
        recover_stale_trials(self, self.heartbeat)

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        state: TrialState | str | None = None,
        fail_reason: str | None = None,
        skip_if_finished: bool = False,
    ) -> TrialRecord:
        """Finish a trial: COMPLETE with ``values``, or PRUNED / FAIL (with ``fail_reason``).

        Values that are not finite numbers, or not one per objective, make the trial FAIL
        with the reason stored, so that one bad trial never stops a study.
        ``skip_if_finished=True`` returns a trial that is already finished as it is, where
        telling it again would be an error.
        """
        if skip_if_finished and (finished := self._finished_record(trial)) is not None:
            logger.info("Trial %d is already finished; tell() left it as it was.", finished.number)
            return finished
        live = self._resolve(trial)
        state = TrialState.COMPLETE if state is None else _as_state(state)
        if not state.is_finished():
            raise TunelabError(f"tell(state={state.name}): use COMPLETE, PRUNED or FAIL.")
        checked: tuple[float, ...] | None = None
        if state is TrialState.COMPLETE:
            checked, problem = check_values(values, len(self._info.directions))
            if problem is not None:
                state, fail_reason = TrialState.FAIL, problem
        try:
            self.sampler.after_trial(self, live, state, checked)
        except Exception as error:
            # A broken constraints function, say: the trial must not stay RUNNING forever.
            self._finish(live, TrialState.FAIL, None, f"{type(error).__name__}: {error}")
            raise
        return self._finish(live, state, checked, fail_reason)

    def _finish(
        self,
        live: Trial | TrialRecord,
        state: TrialState,
        values: tuple[float, ...] | None,
        fail_reason: str | None,
    ) -> TrialRecord:
        params = live._take_unwritten_params() if isinstance(live, Trial) else None
        record = self.storage.finish_trial(live.trial_id, state, values, fail_reason, params)
        if isinstance(live, Trial):
            live._mark_finished()
        self._live.pop(record.number, None)
        self._log_finished(record)
        return record

    def _resolve(self, trial: Trial | int) -> Trial | TrialRecord:
        """The live Trial object if this process asked for it, else the stored running trial."""
        if isinstance(trial, Trial):
            return trial
        if trial in self._live:
            return self._live[trial]
        for record in self.storage.get_trials(self.study_id, (TrialState.RUNNING,)):
            if record.number == trial:
                return record
        raise TunelabError(
            f"tell(): trial number {trial!r} is not a running trial of this study."
        )

    def _finished_record(self, trial: Trial | int) -> TrialRecord | None:
        """The stored record of ``trial`` (an object or a number) if it is finished."""
        number = trial.number if isinstance(trial, Trial) else trial
        for record in self.storage.get_trials(self.study_id):
            if record.number == number:
                return record if record.state.is_finished() else None
        return None

    def enqueue_trial(
        self,
        params: Mapping[str, Any],
        user_attrs: Mapping[str, Any] | None = None,
        skip_if_exists: bool = False,
    ) -> int:
        """Queue a trial with fixed parameters; it runs before any sampled trial. Returns its
        number; with ``skip_if_exists=True``, that of a trial with the same parameters, if
        the study holds one (queued, running or finished), which is then not queued again."""
        if skip_if_exists and (same := self._trial_with_params(params)) is not None:
            logger.info("Trial %d already has the parameters %s; not queued again.", same, params)
            return same
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

    def _trial_with_params(self, params: Mapping[str, Any]) -> int | None:
        for record in self.storage.get_trials(self.study_id):
            given = record.system_attrs.get(FIXED_PARAMS_ATTR, record.params)
            if dict(given) == dict(params):
                return record.number
        return None

    def add_trial(self, trial: TrialRecord) -> None:
        """Store a trial made elsewhere (:func:`~tunelab.trial.create_trial`, or one of another
        study's trials): finished, or WAITING to be run. The sampler learns from it as from
        the study's own trials."""
        self.add_trials([trial])

    def add_trials(self, trials: Iterable[TrialRecord]) -> None:
        """Store several trials made elsewhere, in one write: all of them, or none if one of
        them could not have come out of this study."""
        checked = [addable_trial(trial, len(self.directions)) for trial in trials]
        self.storage.add_trials(self.study_id, checked)

    # Optimize --------------------------------------------------------------------------

    # The function of tunelab.study.optimize itself, so that its options are written once.
    optimize = optimize

    def stop(self) -> None:
        """Ask :meth:`optimize` to stop after the running trial (or trials, with n_jobs), from
        this process (a callback, say); :func:`tunelab.study.request_stop` asks from any
        process."""
        self._stop_requested = True

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def _can_prune(self) -> bool:
        """Whether the pruner could ever stop a trial. A script that asks ``should_prune()``
        where it cannot expects pruning that will not happen: it is warned, once."""
        multi = len(self._info.directions) > 1
        if not multi and not isinstance(self.pruner, NopPruner):
            return True
        if not self._warned_cannot_prune:
            self._warned_cannot_prune = True
            why = (
                f"it has {len(self._info.directions)} objectives, and pruners compare one "
                "reported value; prune in a single-objective study"
                if multi
                else "its pruner is NopPruner (pruner='none'); create it with a pruner, e.g. "
                "pruner='median' (the default) or pruners.MedianPruner()"
            )
            warnings.warn(
                f"should_prune() is always False in study {self.study_name!r}, but for a "
                f"prune requested from outside (request_prune): {why}.",
                UserWarning,
                stacklevel=3,
            )
        return False

    def __repr__(self) -> str:
        words = [str(direction) for direction in self._info.directions]
        return f"Study(name={self.study_name!r}, directions={words})"

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


def _as_state(state: TrialState | str) -> TrialState:
    if isinstance(state, TrialState):
        return state
    found = TrialState.__members__.get(str(state).upper())
    if found is None:
        raise TunelabError(
            f"tell(state={state!r}): use COMPLETE, PRUNED or FAIL (a TrialState or its name)."
        )
    return found
