"""The define-by-run handle an objective receives while its trial runs.

``suggest_*`` asks the study's sampler for a value (or returns a fixed one for enqueued
trials), ``report`` stores an intermediate value and ``should_prune`` asks the pruner.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tunelab._attrs import (
    CONSTRAINTS_ATTR,
    NAMED_CONSTRAINT_PREFIX,
    PRUNE_REQUEST_ATTR,
    PRUNER_CONSULTED_ATTR,
)
from tunelab.constraints import ConstraintsSet
from tunelab.exceptions import ParameterConflictError, TrialFinishedError, TunelabError
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
    JsonScalar,
    as_declared_type,
)
from tunelab.trial._base import BaseTrial
from tunelab.trial._record import Resume
from tunelab.trial._values import as_json, new_report

if TYPE_CHECKING:
    from tunelab.study import Study


def worker_name(pid: int | None = None) -> str:
    """This process (or process ``pid`` of this machine) as the trials it runs record it:
    "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


class Trial(BaseTrial):
    """The handle an objective receives; it suggests parameters and reports progress.

    Suggesting the same name twice returns the same value; suggesting it with a different
    range or type is a :class:`ParameterConflictError`, since the two calls cannot both hold.
    """

    def __init__(
        self,
        study: Study,
        trial_id: int,
        number: int,
        fixed_params: Mapping[str, Any] | None = None,
        resume: Resume | None = None,
    ) -> None:
        self.study = study
        self._resume = resume
        self._trial_id = trial_id
        self._number = number
        self._fixed_params = dict(fixed_params or {})
        self._relative_params: dict[str, Any] = {}
        self._relative_space: dict[str, Distribution] = {}
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, Distribution] = {}
        self._params_dirty = False
        self._params_lock = threading.Lock()
        self._reported_steps: set[int] = set()
        self._constraints = ConstraintsSet(number)
        self._finished = False
        self._consulted_pruner = False

    @property
    def number(self) -> int:
        """The trial's position in its study, from 0, unique within the study."""
        return self._number

    @property
    def trial_id(self) -> int:
        return self._trial_id

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, Distribution]:
        return dict(self._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The user attributes set so far (a copy, read from the storage)."""
        return dict(self.study.storage.get_trial(self._trial_id).user_attrs)

    @property
    def datetime_start(self) -> datetime | None:
        """When the trial started running (UTC)."""
        return self.study.storage.get_trial(self._trial_id).datetime_start

    @property
    def resume(self) -> Resume | None:
        """Set when this trial continues another one's training from its checkpoint (a trial
        promoted to a larger budget, a population-based training member): load that
        checkpoint and train on from ``resume.step + 1``. The steps up to ``resume.step`` are
        already reported (copied from the trial it continues)."""
        return self._resume

    @property
    def fixed_params(self) -> dict[str, Any]:
        """Parameters set in advance (``enqueue_trial``) rather than chosen by the sampler."""
        return dict(self._fixed_params)

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in ``[low, high]``; ``log=True`` samples on a log scale, ``step`` on a grid."""
        value: float = self._suggest(name, FloatDistribution(low, high, log=log, step=step))
        return value

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An integer in ``[low, high]`` on a grid of ``step``; ``log=True`` favours small
        values."""
        value: int = self._suggest(name, IntDistribution(low, high, log=log, step=step))
        return value

    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        """One of ``choices`` (JSON scalars: None, bool, int, float, str)."""
        return self._suggest(name, CategoricalDistribution(choices))  # type: ignore[arg-type]

    def _suggest(self, name: str, distribution: Distribution) -> Any:
        if not isinstance(name, str) or not name:
            raise TunelabError(f"parameter name {name!r} must be a non-empty string.")
        if name in self._params:
            if self._distributions[name] != distribution:
                raise ParameterConflictError(
                    f"parameter {name!r} was first suggested as {self._distributions[name]} and "
                    f"now as {distribution}; a parameter keeps one distribution within a trial. "
                    "Use a different name for the second one."
                )
            return self._params[name]
        value = as_declared_type(distribution, self._choose(name, distribution))
        with self._params_lock:
            self._params[name] = value
            self._distributions[name] = distribution
            self._params_dirty = True
        return value

    def _choose(self, name: str, distribution: Distribution) -> Any:
        if name in self._fixed_params:
            value = self._fixed_params[name]
            if not distribution.contains(value):
                raise TunelabError(
                    f"enqueued value {name}={value!r} is outside its distribution {distribution}; "
                    "enqueue a value inside the range the objective declares."
                )
            return value
        if distribution.is_single:
            return distribution.from_unit(0.5)
        if name in self._relative_params and self._relative_space.get(name) == distribution:
            return self._relative_params[name]
        return self.study.sampler.sample_independent(self.study, self, name, distribution)

    def _set_relative(self, space: Mapping[str, Distribution], params: Mapping[str, Any]) -> None:
        """Parameters the sampler chose jointly before the objective ran (used by suggest)."""
        self._relative_space = dict(space)
        self._relative_params = dict(params)

    def report(self, value: float, step: int) -> None:
        """Store an intermediate objective value (e.g. validation accuracy after an epoch)."""
        self._check_running("report")
        if len(self.study.directions) > 1:
            raise TunelabError(
                "report() is for single-objective studies; a multi-objective trial has no "
                "single value to compare between trials."
            )
        report = new_report(step, value, self._reported_steps, f"trial {self.number}")
        if report is None:
            return
        step, value = report
        self._flush_params()
        self.study.storage.set_intermediate_value(self._trial_id, step, value)

    def needs_checkpoint(self, paused: bool) -> bool:
        """Whether a checkpoint of the training taken now could be used: the trial is being
        paused by a pruner that continues paused trials, or the study retries trials whose
        worker died (from their last checkpoint). Saving one otherwise is wasted work."""
        heartbeat = self.study.heartbeat
        retries = heartbeat is not None and heartbeat.max_retries > 0
        return retries or (paused and self.study.pruner.resumes_paused)

    def _inherit_curve(self, values: Mapping[int, float]) -> None:
        """Store the intermediate values of the trial this one continues, as its own."""
        for step, value in sorted(values.items()):
            self._reported_steps.add(step)
            self.study.storage.set_intermediate_value(self._trial_id, step, value)

    def should_prune(self) -> bool:
        """Whether this trial should stop now: a prune was requested for it from outside
        (:func:`tunelab.study.request_prune`, the dashboard), or the study's pruner says so.

        A loop that never calls ``should_prune()`` cannot be pruned, by the pruner or from
        outside. The first call notes on the trial which pruner it asked (system attribute
        ``pruner_consulted``), so that the doctor can tell a pruner never asked from one asked
        where it cannot prune: one write per trial, not per call. Each call reads the trial's
        record once, where the pruner reads the reports and a request is seen.
        """
        self._check_running("should_prune")
        if not self._consulted_pruner:
            self._consulted_pruner = True
            self.study.storage.set_trial_system_attr(
                self._trial_id, PRUNER_CONSULTED_ATTR, self.study._pruner_name()
            )
        pruner_may_judge = self.study._can_prune() and bool(self._reported_steps)
        record = self.study.storage.get_trial(self._trial_id)
        if PRUNE_REQUEST_ATTR in record.system_attrs:
            return True
        return pruner_may_judge and bool(self.study.pruner.prune(self.study, record))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable value to the trial (shown in reports and dataframes)."""
        self._check_running("set_user_attr")
        self._flush_params()
        self.study.storage.set_trial_user_attr(self._trial_id, key, as_json(key, value))

    def set_system_attr(self, key: str, value: Any) -> None:
        """Attach a JSON value that tunelab's own components read back (telemetry, artifacts).

        Kept apart from user attributes so that dataframes and reports show what the user set.
        """
        self._check_running("set_system_attr")
        self._flush_params()
        self.study.storage.set_trial_system_attr(self._trial_id, key, as_json(key, value))

    def set_constraints(self, values: Sequence[float]) -> None:
        """Constraint values of this trial, each ``<= 0`` when satisfied.

        A trial that violates one is never among the study's best trials, and constrained
        samplers (NSGA-II) rank it behind every feasible trial.
        """
        self.set_system_attr(CONSTRAINTS_ATTR, self._constraints.set_list(values))

    def set_constraint(self, name: str, value: float) -> None:
        """One named constraint value, ``<= 0`` when satisfied (Optuna 5's form); call it
        once per constraint. A name set twice keeps its first value, with a warning."""
        checked = self._constraints.set_named(name, value)
        if checked is not None:
            self.set_system_attr(NAMED_CONSTRAINT_PREFIX + name, checked)

    @property
    def constraints(self) -> dict[str, float]:
        """The constraint values set so far: the list's by position, then the named ones."""
        return self._constraints.as_dict()

    def _flush_params(self) -> None:
        """Write the parameters if any were suggested since the last write.

        Writes are batched (at the first report, user attribute or at the end of the trial)
        because one write per ``suggest_*`` would dominate the cost of cheap trials.
        """
        unwritten = self._take_unwritten_params()
        if unwritten is None:
            return
        try:
            self.study.storage.set_trial_params(self._trial_id, *unwritten)
        except BaseException:
            with self._params_lock:
                self._params_dirty = True
            raise

    def _take_unwritten_params(self) -> tuple[dict[str, Any], dict[str, Distribution]] | None:
        """All parameters if some are unwritten, to be saved with the final state in one write.

        Thread-safe: the heartbeat thread also writes them, so that a trial whose worker dies
        is retried with its parameters.
        """
        with self._params_lock:
            if not self._params_dirty:
                return None
            self._params_dirty = False
            return dict(self._params), dict(self._distributions)

    def _mark_finished(self) -> None:
        self._finished = True

    def _check_running(self, what: str) -> None:
        if self._finished:
            raise TrialFinishedError(f"trial {self.number} is finished; {what}() is not allowed.")

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._params!r})"
