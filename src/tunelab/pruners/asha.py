"""Asynchronous successive halving (ASHA; Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt,
Recht & Talwalkar, "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020), with
its rungs placed down from the full budget as Hyperband does (Li, Jamieson, DeSalvo,
Rostamizadeh & Talwalkar, "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
Optimization", JMLR 2018).

Where the rungs fall (:func:`halving_budgets`): when the full budget ``max_resource`` is known,
the top of the ladder is ``max_resource`` and the rungs sit below it at ``max_resource //
eta ** k`` (``eta`` the reduction factor; ``k = 1, 2, ...`` while ``min_resource * eta ** k <=
max_resource``), so the lowest rung is at ``min_resource`` or above. Rounding down keeps each
rung at or before the paper's budget ``max_resource / eta ** k``, hence out of the last
``1 / eta`` of the budget, and keeps the rungs distinct. With 20 epochs (steps 1 to 20,
``max_resource=20``), ``eta`` 3 and ``min_resource`` 2 the rungs are at steps 2 (20 // 9) and
6 (20 // 3); a trial that passes step 6 runs to step 20. ``min_early_stopping_rate`` drops that
many of the lowest rungs. When ``max_resource`` is not known the rungs climb from the bottom
instead, at ``min_resource * eta ** (min_early_stopping_rate + k)``, ``k = 0, 1, ...`` (see
:class:`SuccessiveHalvingPruner` for why): with ``min_resource`` 2 and ``eta`` 3, steps 2, 6,
18, 54, ..., so on 20 epochs a trial may be stopped at step 18, with 90 % of its cost spent.

When a trial first reports at or past a rung, its value there is ranked among the values of
every trial that reached that rung (running, pruned and completed ones, itself included): it
goes on only if it is among the best ``1 / reduction_factor`` of them. Between rungs a trial
is never stopped. Nothing waits for a rung to fill, which is what makes the halving
asynchronous: the first trials to reach a rung are judged against fewer peers, and while a
rung holds fewer than ``reduction_factor`` values only the best of them goes on.

A trial's value at a rung is the one it reported at the first step at or past the rung. A
reported NaN stops the trial at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tunelab._options import check_flag, check_int
from tunelab.exceptions import ConfigError
from tunelab.pruners.base import (
    BasePruner,
    Continuation,
    continued_trials,
    last_report,
    value_at,
)
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

_WHERE = "ASHA pruner"
_AUTO_FRACTION = 100  # min_resource="auto": this fraction of a completed trial's last step
COMPETING_STATES = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)


class SuccessiveHalvingPruner(BasePruner):
    """Asynchronous successive halving.

    Args:
        min_resource: the lowest step a rung may sit at; ``"auto"`` takes a hundredth of the
            last step of the longest completed trial (at least 1), and prunes nothing until a
            trial has completed.
        reduction_factor: each rung keeps the best ``1 / reduction_factor`` of the trials that
            reach it, and rungs are this factor apart (up to rounding down).
        min_early_stopping_rate: leaves out that many of the lowest rungs (Hyperband's
            brackets differ by it).
        max_resource: the step at which a trial has its full budget (the last epoch), if
            known: the top of the ladder, with the rungs at ``max_resource // reduction_factor
            ** k`` below it (see the module's docstring), so that no rung sits in the last
            ``1 / reduction_factor`` of a trial's training. With ``min_resource="auto"`` and no
            ``max_resource``, the last step of the same completed trial is taken.
        promote_paused: treat a stopped trial as paused: when later trials leave it among the
            best ``1 / reduction_factor`` of its rung, the study's next trial continues it from
            its checkpoint (ASHA's promotion). Only for objectives that resume from
            ``trial.resume``, as tunelab's training engine does.
        bootstrap_count: a trial that reaches a rung is stopped while the rung holds no more
            than this many trials (itself included), so that the first trials are not promoted
            on too little evidence.

    Give ``max_resource`` (e.g. the number of epochs) whenever trials have a fixed length.
    Without it and with a fixed ``min_resource``, the rungs climb from ``min_resource`` by
    powers of ``reduction_factor`` with no top, as in Optuna's ``SuccessiveHalvingPruner``
    (which has no ``max_resource``), so that code brought over from Optuna stops trials at the
    steps it stopped them at there. Learning the top from the first completed trial instead
    would let every trial that starts before one completes run unjudged (in a fused population
    or with parallel workers, the whole first wave), and a trial that ended early by its own
    early stopping would set too low a top. With ``min_resource="auto"`` (Optuna's default,
    which fixes no rung) the rungs wait for a completed trial anyway, so its last step is taken
    as the top, and the rungs differ from Optuna's: for trials of 27 steps numbered 0 to 26 and
    ``reduction_factor=4``, steps 1 and 6 (26 // 16, 26 // 4) where Optuna has 1, 4 and 16.

    Optuna's default ``reduction_factor`` is 4 and its ``min_resource`` is ``"auto"``; both
    are accepted as Optuna scripts pass them.
    """

    def __init__(
        self,
        min_resource: int | str = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        max_resource: int | None = None,
        promote_paused: bool = False,
        bootstrap_count: int = 0,
    ) -> None:
        auto = min_resource == "auto"
        first_rung, self.reduction_factor = check_halving(
            _WHERE, 1 if auto else min_resource, reduction_factor
        )
        self.min_resource: int | str = "auto" if auto else first_rung
        self._lowest: int | None = None if auto else first_rung
        self.min_early_stopping_rate = check_int(
            _WHERE, "min_early_stopping_rate", min_early_stopping_rate, 0, "0 starts at once."
        )
        self.bootstrap_count = check_int(
            _WHERE, "bootstrap_count", bootstrap_count, 0, "0 judges from the first trial on."
        )
        if auto and self.bootstrap_count:
            raise ConfigError(
                f"{_WHERE}: bootstrap_count={bootstrap_count!r} needs a fixed min_resource, "
                "not 'auto' (the rungs are unknown until a trial completes); give "
                "min_resource a step, e.g. 1.",
                field="bootstrap_count",
            )
        self.max_resource = None if max_resource is None else check_int(
            _WHERE, "max_resource", max_resource, 1,
            "the last step a trial reports, e.g. 20 epochs.",
        )
        self._top: int | None = self.max_resource
        self.promote_paused = check_flag(_WHERE, "promote_paused", promote_paused)

    def rung_steps(self, up_to: int) -> list[int]:
        """The steps of the rungs, in order, up to ``up_to`` included."""
        if self._lowest is None:
            return []
        eta = self.reduction_factor
        if self._top is not None:
            budgets = halving_budgets(self._lowest, self._top, eta)
            return [step for step in budgets[self.min_early_stopping_rate : -1] if step <= up_to]
        steps = []
        k = self.min_early_stopping_rate
        while (step := self._lowest * eta**k) <= up_to:
            steps.append(step)
            k += 1
        return steps

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        if math.isnan(last_report(trial)[1]):
            return True
        self.settle_auto(study)
        return self.judge(study, trial, study.storage.get_trials(study.study_id, COMPETING_STATES))

    def settle_auto(self, study: Study) -> None:
        """With ``min_resource="auto"``, fix the lowest rung (and the top, unless
        ``max_resource`` was given) once a trial has completed."""
        if self._lowest is not None:
            return
        longest = longest_completed_step(study)
        if longest is not None:
            self._lowest = max(longest // _AUTO_FRACTION, 1)
            if self._top is None:
                self._top = longest

    def judge(self, study: Study, trial: TrialRecord, peers: Iterable[TrialRecord]) -> bool:
        """The rule against ``peers`` (RUNNING, COMPLETE and PRUNED trials, ``trial`` among
        them) rather than every trial of the study: Hyperband's brackets compete apart."""
        rung = self._rung_just_reached(trial, last_report(trial)[0])
        if rung is None:
            return False
        ranked = self._ranked(study, list(peers), rung)
        if len(ranked) <= self.bootstrap_count:
            return True
        mine = value_at(trial, rung)
        assert mine is not None
        kept = max(len(ranked) // self.reduction_factor, 1)
        return _signed(study, mine) > ranked[kept - 1][0]

    @property
    def resumes_paused(self) -> bool:
        return self.promote_paused

    def next_trial(self, study: Study) -> Continuation | None:
        if not self.promote_paused:
            return None
        self.settle_auto(study)
        return self.promotion(study, study.storage.get_trials(study.study_id))

    def promotion(self, study: Study, records: list[TrialRecord]) -> Continuation | None:
        """A paused trial of ``records`` that its rung now ranks among the best
        ``1 / reduction_factor``, highest rung first; None if there is none."""
        continued = continued_trials(records)
        paused = {
            r.number: rung
            for r in records
            if r.state is TrialState.PRUNED
            and r.number not in continued
            and r.last_step is not None
            and (rung := self._rung_just_reached(r, r.last_step)) is not None
        }
        if not paused:
            return None
        for rung in reversed(self.rung_steps(max(paused.values()))):
            ranked = self._ranked(study, records, rung)
            for _, record in ranked[: max(len(ranked) // self.reduction_factor, 1)]:
                if paused.get(record.number) == rung:
                    assert record.last_step is not None
                    return Continuation(record, record.last_step, record.params)
        return None

    def _ranked(
        self, study: Study, records: list[TrialRecord], rung: int
    ) -> list[tuple[float, TrialRecord]]:
        """(signed value at ``rung``, record) of the competing trials that reached it, best
        first; a trial another one continues is represented by its continuation."""
        continued = continued_trials(records)
        ranked = []
        for record in records:
            if record.state not in COMPETING_STATES or record.number in continued:
                continue
            value = value_at(record, rung)
            if value is not None and not math.isnan(value):
                ranked.append((_signed(study, value), record))
        ranked.sort(key=lambda pair: (pair[0], pair[1].number))
        return ranked

    def _rung_just_reached(self, trial: TrialRecord, step: int) -> int | None:
        """The rung that ``step`` is the trial's first report at or past, if any."""
        earlier = [s for s in trial.intermediate_values if s < step]
        previous = max(earlier) if earlier else -1
        reached = [r for r in self.rung_steps(step) if previous < r <= step]
        return reached[-1] if reached else None


def halving_budgets(min_resource: int, max_resource: int, eta: int) -> list[int]:
    """The budgets of successive halving below and at ``max_resource``, lowest first:
    ``max_resource // eta ** k`` for ``k = s .. 0``, with ``s`` the largest ``k`` such that
    ``min_resource * eta ** k <= max_resource`` (0 if there is none). Rounding down keeps each
    budget at or before the real ``max_resource / eta ** k`` and, as ``eta >= 2``, distinct;
    the lowest is at least ``min_resource`` (when ``min_resource <= max_resource``)."""
    halvings = 0
    while min_resource * eta ** (halvings + 1) <= max_resource:
        halvings += 1
    return [max_resource // eta**k for k in range(halvings, -1, -1)]


def longest_completed_step(study: Study) -> int | None:
    """The last step of the longest completed trial that reported, if any: the full budget
    that ``"auto"`` options learn."""
    last_steps = [
        record.last_step
        for record in study.storage.get_trials(study.study_id, (TrialState.COMPLETE,))
        if record.last_step is not None
    ]
    return max(last_steps) if last_steps else None


def check_halving(where: str, min_resource: Any, reduction_factor: Any) -> tuple[int, int]:
    """The options every successive-halving rule shares, checked."""
    return (
        check_int(where, "min_resource", min_resource, 1, "the first rung's step, e.g. 1 epoch."),
        check_int(where, "reduction_factor", reduction_factor, 2, "3 keeps a third at each rung."),
    )


def _signed(study: Study, value: float) -> float:
    """``value`` turned so that lower is better."""
    return -value if study.direction == "maximize" else value
