"""How one process runs a study's trials: the runner every way of running trials goes through.

The serial loop of :meth:`Study.optimize`, the worker processes, the Dask tasks and
``tunelab worker`` all run trials with a :class:`TrialRunner`: ask the study for a trial, run
the objective while the trial's heartbeat beats, and tell the study what the objective
returned or raised. So a trial ends the same way wherever it ran.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.exceptions import TrialPruned
from tunelab.heartbeat import Heartbeat
from tunelab.trial import Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

logger = logging.getLogger("tunelab")

Objective = Callable[[Trial], Any]
CatchTypes = tuple[type[BaseException], ...]


FIRST_POPULATION = 4
"""How many trials a run's first fused population asks for; each next one asks for twice as
many, up to the run's ``fuse``."""


def population_sizes(fuse: int) -> Iterator[int]:
    """How many trials each next fused population of a run asks for.

    The first populations are small (FIRST_POPULATION, then doubling up to ``fuse``): a
    population reports its members' first epoch when all of them have trained it, so a small
    one reports sooner, and the sampler learns from its members before it proposes the large
    ones. Measured on the digits MLP of ``bench/peers.py`` with
    ``--fuse 32`` (2 workers, seeds 0 to 4): first epoch 3.0 to 3.2 s after the command
    started (3.2 to 3.4 s with populations of 32 from the start), 0.975 reached at 3.4 s
    median (4.4 s).
    """
    size = min(fuse, FIRST_POPULATION)
    while True:
        yield size
        size = min(fuse, size * 2)


class TrialRunner:
    """Runs ``objective`` on new trials of ``study`` in this process.

    An exception of a type in ``catch`` (or a :class:`TrialPruned`) ends only its trial;
    another one fails the trial and is raised again, so that the caller stops.
    """

    def __init__(self, study: Study, objective: Objective, catch: CatchTypes = (Exception,)):
        self.study = study
        self.objective = objective
        self.catch = catch

    def run_one(self) -> TrialRecord:
        """Ask for a trial, run the objective on it and return the finished record."""
        trial = self.study.ask()
        try:
            with self._heartbeats([trial]):
                returned = self.objective(trial)
        except BaseException as error:
            record = self.tell_outcome(trial, error)
            if not self.ends_only_its_trial(error):
                raise
            return record
        return self.tell_outcome(trial, returned)

    def run_population(self, size: int, on_finished: Callable[[TrialRecord], None]) -> None:
        """Ask for ``size`` trials at once and let the objective, a declarative training task,
        train them together (``objective.fit_group``); each is told, and given to
        ``on_finished``, as it finishes."""
        trials = self.study.ask(size)
        running = {trial.number: trial for trial in trials}
        uncaught: list[BaseException] = []

        def finish(trial: Trial, outcome: Any) -> None:
            del running[trial.number]
            on_finished(self.tell_outcome(trial, outcome))
            if isinstance(outcome, BaseException) and not self.ends_only_its_trial(outcome):
                uncaught.append(outcome)

        try:
            with self._heartbeats(trials):
                self.objective.fit_group(trials, finish)  # type: ignore[attr-defined]
        except BaseException as error:
            for trial in list(running.values()):
                finish(trial, error)
            raise
        assert not running, f"fit_group left trials {sorted(running)} running"
        if uncaught:
            raise uncaught[0]

    def tell_outcome(self, trial: Trial, outcome: Any) -> TrialRecord:
        """Finish a trial with what its objective returned or raised: values, a prune, or a
        failure with the error as its reason."""
        if isinstance(outcome, TrialPruned):
            return self.study.tell(trial, state=TrialState.PRUNED, fail_reason=str(outcome) or None)
        if isinstance(outcome, KeyboardInterrupt):
            how = str(outcome) or "by the user (Ctrl-C)"  # workers say which signal
            return self.study.tell(trial, state=TrialState.FAIL, fail_reason=f"interrupted {how}")
        if isinstance(outcome, BaseException):
            logger.debug("Trial %d raised:", trial.number, exc_info=outcome)
            reason = f"{type(outcome).__name__}: {outcome}"
            return self.study.tell(trial, state=TrialState.FAIL, fail_reason=reason)
        return self.study.tell(trial, outcome)

    def ends_only_its_trial(self, error: BaseException) -> bool:
        """Whether an objective's exception ends only its trial (a prune, or a type in
        ``catch``) rather than the whole run."""
        return isinstance(error, (TrialPruned, *self.catch))

    def _heartbeats(self, trials: Sequence[Trial]) -> contextlib.ExitStack:
        """A context in which the running ``trials`` beat, when the study uses heartbeats."""
        stack = contextlib.ExitStack()
        settings = self.study.heartbeat
        if settings is not None:
            for trial in trials:
                stack.enter_context(Heartbeat(trial, settings.interval))
        return stack
