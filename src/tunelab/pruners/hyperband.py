"""Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband: A Novel Bandit-Based
Approach to Hyperparameter Optimization", JMLR 2018), run asynchronously.

Successive halving must guess how early a trial can be judged: too early and slow starters are
lost, too late and little is saved. Hyperband hedges by running several brackets side by side,
from the most aggressive (first judged at ``min_resource``) to one that never stops a trial.
With ``R = max_resource / min_resource`` and ``s_max = floor(log_eta R)``, bracket ``s``
(``s_max`` down to 0) starts ``n = ceil((s_max + 1) / (s + 1) * eta ** s)`` trials and keeps
``floor(n * eta ** -i)`` of them at budget ``max_resource * eta ** (i - s)``, ``i = 0 .. s``
(:meth:`HyperbandPruner.brackets` gives this table). Every bracket's last budget is
``max_resource``; the budgets are steps, so those below it are rounded down,
``max_resource // eta ** (s - i)``, as successive halving places its rungs
(:func:`tunelab.pruners.asha.halving_budgets`): no round before the last sits in the last
``1 / eta`` of the budget, also when ``R`` is no power of ``eta``. With 20 epochs
(``max_resource=20``), ``eta`` 3 and ``min_resource`` 2 (or 1): ``s_max = 2``, and the brackets
run 9 trials to step 2, 3 of them to step 6 and 1 to step 20; 5 to step 6 and 1 to step 20;
3 to step 20. (Optuna's ``HyperbandPruner`` instead climbs from
``min_resource`` in every bracket, with no top.)

Trials are dealt to the brackets in proportion to their sizes (a smooth weighted round-robin on
the trial number, so that any stretch of trials is spread like the whole) and each bracket runs
asynchronous successive halving (:mod:`tunelab.pruners.asha`) among its own trials only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunelab._options import check_flag, check_int
from tunelab.pruners.asha import (
    COMPETING_STATES,
    SuccessiveHalvingPruner,
    check_halving,
    halving_budgets,
    longest_completed_step,
)
from tunelab.pruners.base import BasePruner, Continuation, last_report
from tunelab.trial import Resume, TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study

_WHERE = "Hyperband pruner"


@dataclass(frozen=True)
class Bracket:
    """One bracket of Hyperband: ``rounds[i]`` is (trials kept, budget) of round ``i``."""

    index: int  # s in the paper: the number of halvings
    n_trials: int
    rounds: tuple[tuple[int, int], ...]


class HyperbandPruner(BasePruner):
    """Hyperband over brackets of asynchronous successive halving.

    Args:
        min_resource: the lowest step a trial may be judged at, e.g. 1 epoch: the lowest
            budget, ``max_resource // eta ** s_max``, is at least this.
        max_resource: the full budget, the last step a trial reports (e.g. the number of
            epochs), and the top of every bracket, with the budgets below it at
            ``max_resource // eta ** k``; ``"auto"`` takes the last step of the longest trial
            completed when the pruner first looks after one completes (with trials run one at
            a time, the first to complete), and prunes nothing until then.
        reduction_factor: ``eta``: each round keeps ``1 / eta`` of a bracket's trials and
            gives them ``eta`` times the budget.
        promote_paused: stopped trials are paused and promoted later from their checkpoints,
            as in :class:`~tunelab.pruners.asha.SuccessiveHalvingPruner`; a continuation stays
            in the bracket of the trial it continues.
        bootstrap_count: in every bracket, a trial that reaches a round is stopped while the
            round holds no more than this many trials, as in successive halving.
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: int | str = "auto",
        reduction_factor: int = 3,
        promote_paused: bool = False,
        bootstrap_count: int = 0,
    ) -> None:
        self.min_resource, self.reduction_factor = check_halving(
            _WHERE, min_resource, reduction_factor
        )
        self.max_resource: int | None = None
        if max_resource != "auto":
            self.max_resource = check_int(
                _WHERE, "max_resource", max_resource, self.min_resource,
                "the number of steps (epochs) of a full trial, at least min_resource; or auto.",
            )
        self.promote_paused = check_flag(_WHERE, "promote_paused", promote_paused)
        self.bootstrap_count = check_int(
            _WHERE, "bootstrap_count", bootstrap_count, 0, "0 judges from the first trial on."
        )
        self._plan: _Plan | None = None

    def brackets(self, max_resource: int | None = None) -> list[Bracket]:
        """Li et al.'s brackets for ``max_resource`` (default: the pruner's), largest ``s``
        first."""
        resource = max_resource if max_resource is not None else self.max_resource
        if resource is None:
            raise ValueError("brackets(): max_resource is 'auto' and no trial has completed yet")
        eta = self.reduction_factor
        budgets = halving_budgets(self.min_resource, resource, eta)
        s_max = len(budgets) - 1
        result = []
        for s in range(s_max, -1, -1):
            n = -(-(s_max + 1) * eta**s // (s + 1))  # ceil without float rounding
            rounds = tuple((n // eta**i, budget) for i, budget in enumerate(budgets[s_max - s :]))
            result.append(Bracket(index=s, n_trials=n, rounds=rounds))
        return result

    def bracket_of(self, number: int) -> Bracket:
        """The bracket trial ``number`` runs in (with ``max_resource="auto"``, once a trial
        has completed and the pruner has judged another)."""
        plan = self._current_plan()
        if plan is None:
            raise ValueError("bracket_of(): max_resource is 'auto' and no trial has completed yet")
        return plan.brackets[plan.cycle[number % len(plan.cycle)]]

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        if math.isnan(last_report(trial)[1]):
            return True
        plan = self._current_plan(study)
        if plan is None:
            return False
        position = plan.position(trial)
        peers = [
            record
            for record in study.storage.get_trials(study.study_id, COMPETING_STATES)
            if plan.position(record) == position
        ]
        return plan.rules[position].judge(study, trial, peers)

    @property
    def resumes_paused(self) -> bool:
        return self.promote_paused

    def next_trial(self, study: Study) -> Continuation | None:
        if not self.promote_paused:
            return None
        plan = self._current_plan(study)
        if plan is None:
            return None
        by_bracket: dict[int, list[TrialRecord]] = {}
        for record in study.storage.get_trials(study.study_id):
            by_bracket.setdefault(plan.position(record), []).append(record)
        for position, records in sorted(by_bracket.items()):
            if (promotion := plan.rules[position].promotion(study, records)) is not None:
                return promotion
        return None

    def _current_plan(self, study: Study | None = None) -> _Plan | None:
        """The brackets, made once the full budget is known: given, or with ``"auto"`` the
        last step of ``study``'s longest completed trial (looked for only until found)."""
        if self._plan is None:
            resource = self.max_resource
            if resource is None and study is not None:
                resource = longest_completed_step(study)
            if resource is not None:
                self._plan = _Plan(self, resource)
        return self._plan


class _Plan:
    """The brackets for one ``max_resource``, their successive-halving rules and the order in
    which trials are dealt to them."""

    def __init__(self, pruner: HyperbandPruner, max_resource: int) -> None:
        self.brackets = pruner.brackets(max_resource)
        s_max = self.brackets[0].index
        self.rules = [
            SuccessiveHalvingPruner(
                min_resource=pruner.min_resource,
                reduction_factor=pruner.reduction_factor,
                min_early_stopping_rate=s_max - bracket.index,
                max_resource=max_resource,
                promote_paused=pruner.promote_paused,
                bootstrap_count=pruner.bootstrap_count,
            )
            for bracket in self.brackets
        ]
        self.cycle = _smooth_round_robin([b.n_trials for b in self.brackets])

    def position(self, record: TrialRecord) -> int:
        """The index of the bracket ``record`` runs in: its lineage's first trial decides."""
        resume = Resume.of(record)
        number = resume.root if resume is not None else record.number
        return self.cycle[number % len(self.cycle)]


def _smooth_round_robin(weights: list[int]) -> list[int]:
    """A cycle of ``sum(weights)`` positions where position ``j`` appears ``weights[j]`` times,
    spread evenly (nginx's smooth weighted round-robin)."""
    total = sum(weights)
    current = [0] * len(weights)
    cycle = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights)]
        chosen = max(range(len(weights)), key=lambda j: current[j])
        current[chosen] -= total
        cycle.append(chosen)
    return cycle
