"""The pruner contract: look at a running trial's intermediate values and decide to stop it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunelab._attrs import FIXED_PARAMS_ATTR, RESUME_ATTR
from tunelab._pickling import PicklesAsConstructorCall
from tunelab.trial import Resume, TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study


class BasePruner(PicklesAsConstructorCall, ABC):
    """Base class of every early-stopping rule."""

    @abstractmethod
    def prune(self, study: Study, trial: TrialRecord) -> bool:
        """True if ``trial`` (running, with at least one reported value) should stop now."""

    @property
    def resumes_paused(self) -> bool:
        """Whether trials this rule stops may be continued later (from their checkpoints), so
        that a stopped trial should leave one."""
        return False

    def next_trial(self, study: Study) -> Continuation | None:
        """A trial to run next that continues a stopped one from its checkpoint (a promotion,
        a population member's next interval), or None to let the sampler start a new one.

        Called whenever the study starts a trial; rules that never resume return None.
        """
        return None


@dataclass(frozen=True)
class Continuation:
    """A trial that picks up ``source``'s training at ``step`` with ``params`` (the same, or
    changed ones for population-based training) and extra system attributes. It carries on
    ``previous`` (default: ``source``; a population member that takes another's weights
    carries on its own previous trial)."""

    source: TrialRecord
    step: int
    params: Mapping[str, Any]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    previous: TrialRecord | None = None

    def system_attrs(self) -> dict[str, Any]:
        previous = self.previous or self.source
        before = Resume.of(previous)
        root = before.root if before is not None else previous.number
        resume = Resume(self.source.number, self.source.trial_id, self.step, previous.number, root)
        return {FIXED_PARAMS_ATTR: dict(self.params), RESUME_ATTR: resume.to_json(), **self.attrs}


def continued_trials(records: list[TrialRecord]) -> set[int]:
    """Numbers of the trials that some trial of ``records`` carries on."""
    return {resume.previous for r in records if (resume := Resume.of(r)) is not None}


def last_report(trial: TrialRecord) -> tuple[int, float]:
    """The step and value of the trial's last report (``prune`` is asked only after one)."""
    step = trial.last_step
    assert step is not None, "prune() is asked only after a report"
    return step, trial.intermediate_values[step]


def is_checked_step(step: int, n_warmup_steps: int, interval_steps: int) -> bool:
    """Whether a rule with a warm-up and an interval looks at ``step`` at all."""
    return step >= n_warmup_steps and (step - n_warmup_steps) % interval_steps == 0


def value_at(record: TrialRecord, step: int) -> float | None:
    """The value the trial reported at its first step at or past ``step``; None if it has not
    got there. Successive halving judges a trial at a rung by it; BOHB models a budget by it."""
    steps = [s for s in record.intermediate_values if s >= step]
    return record.intermediate_values[min(steps)] if steps else None
