"""What a worker needs to run a study's trials in another process or on another machine.

A :class:`WorkerSpec` travels by pickle (to a worker process, a Dask worker): the storage URL
and study name instead of the study itself, the objective, and the sampler and pruner, which
pickle as their constructor calls (:mod:`tunelab._pickling`) and rebuild their state from the
storage. Every kind of worker (processes, Dask, ``tunelab worker``) runs trials through
:meth:`WorkerSpec.open_study` and a :class:`~tunelab.study.runner.TrialRunner`, the same path
as the serial loop, and the calling process follows their results in the storage with
:class:`FinishedTrials`.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunelab._attrs import DEVICE_ATTR
from tunelab.exceptions import ConfigError
from tunelab.execution.postmortem import unguarded_main_call
from tunelab.storage import shared_url

if TYPE_CHECKING:
    from tunelab.pruners import BasePruner
    from tunelab.samplers import BaseSampler
    from tunelab.study import Study
    from tunelab.trial import Trial, TrialRecord



@dataclass(frozen=True)
class WorkerSpec:
    """A study's trials, as another process can run them."""

    storage_url: str
    study_name: str
    objective: Callable[[Trial], Any]
    sampler: BaseSampler
    pruner: BasePruner
    catch: tuple[type[BaseException], ...]
    trial_budget: int | None = None
    device: str | None = None
    fuse: int | None = None
    """With a population size, each worker trains its trials that many at a time, fused
    (``optimize(fuse=K)``); the objective is then a declarative training task."""
    stop_requests_seen: int | None = None
    """The calling run's count of stop requests as it started (``Study.stop_requests_seen``):
    a larger one in the storage stops the workers too."""

    def open_study(self) -> Study:
        """The study, opened on this process's own connection to the storage."""
        from tunelab.study import load_study

        study = load_study(
            self.study_name, self.storage_url, sampler=self.sampler, pruner=self.pruner
        )
        study.trial_budget = self.trial_budget
        study.stop_requests_seen = self.stop_requests_seen
        return study

    def objective_here(self) -> Callable[[Trial], Any]:
        """The objective, recording the worker's device on each trial when it has one."""
        if self.device is None:
            return self.objective
        return _OnDevice(self.objective, self.device)

    def on_device(self, device: str | None) -> WorkerSpec:
        return dataclasses.replace(self, device=device)


class _OnDevice:
    """The objective, writing the device to each trial first (a class, so that it pickles)."""

    def __init__(self, objective: Callable[[Trial], Any], device: str) -> None:
        self.objective, self.device = objective, device

    def __call__(self, trial: Trial) -> Any:
        trial.set_system_attr(DEVICE_ATTR, self.device)
        return self.objective(trial)

    def fit_group(self, trials: list[Trial], finish: Callable[[Trial, Any], None]) -> None:
        """A fused population of a training task's trials, each recording the device."""
        for trial in trials:
            trial.set_system_attr(DEVICE_ATTR, self.device)
        self.objective.fit_group(trials, finish)  # type: ignore[attr-defined]


def shared_storage_url(study: Study, what: str) -> str:
    """The URL other processes open the study's storage with; a ConfigError for a storage
    that lives in this process only."""
    url = shared_url(study.storage)
    if url is None:
        raise ConfigError(
            f"{what} runs trials in other processes, which cannot see a storage in this "
            "process's memory; create the study on a file or server, e.g. "
            "create_study(storage='sqlite:///tunelab.db').",
            field="storage",
        )
    return url


def why_not_processes(study: Study, objective: Any, what: str) -> str | None:
    """Why worker processes cannot run ``objective`` on ``study`` from here (then
    ``optimize`` runs threads, as Optuna always does); None when they can."""
    if shared_url(study.storage) is None:
        return "the study is kept in memory, which other processes cannot see"
    if (call := unguarded_main_call()) is not None:
        return (
            f"the script calls {what} at its top level ({call}), which every worker process "
            'would run again; put that call under `if __name__ == "__main__":` to run trials '
            "in processes"
        )
    try:
        check_picklable(objective, what)
    except ConfigError:
        return (
            f"the objective {objective!r} cannot be pickled to another process; define it at "
            "the top level of a module (not a lambda or a nested function) to run trials in "
            "processes"
        )
    if _defined_interactively(objective):
        return (
            f"the objective {objective!r} is defined in an interactive session (a notebook, "
            "python -c), which a worker process cannot import; define it in a module to run "
            "trials in processes"
        )
    return None


def _defined_interactively(objective: Any) -> bool:
    """Whether ``objective`` lives in a ``__main__`` that has no file: a worker process
    imports the main script to find what was pickled by name, and here there is none."""
    main = sys.modules.get("__main__")
    return getattr(objective, "__module__", None) == "__main__" and not hasattr(main, "__file__")


def check_picklable(objective: Any, what: str, *, cloudpickle: bool = False) -> None:
    """A ConfigError if ``objective`` cannot travel to another process: by pickle, or with
    ``cloudpickle``, as Dask sends it, which carries lambdas and closures by value (but not
    what they hold that cannot be copied, such as a lock or an open connection)."""
    dumps: Callable[[Any], bytes] = pickle.dumps
    fix = (
        "define it at the top level of a module (not a lambda, a nested function or a method "
        "of a local class), or run with n_jobs=1"
    )
    if cloudpickle:
        import cloudpickle as by_value  # a dependency of dask

        dumps = by_value.dumps
        fix = (
            "create what it holds that cannot be copied (a lock, an open file or connection) "
            "inside the objective instead of capturing it"
        )
    try:
        dumps(objective)
    except Exception as error:
        raise ConfigError(
            f"{what} runs the objective in other processes, so it must be picklable, and "
            f"{objective!r} is not ({type(error).__name__}: {error}); {fix}.",
            field="objective",
        ) from None


class FinishedTrials:
    """Trials of the study that finished since the workers started, each given once: how the
    calling process follows workers that write their results to the storage."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.seen = {r.number for r in study.trials if r.state.is_finished()}

    def new(self) -> list[TrialRecord]:
        fresh = [
            r for r in self.study.trials if r.state.is_finished() and r.number not in self.seen
        ]
        self.seen.update(r.number for r in fresh)
        return fresh
