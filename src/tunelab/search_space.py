"""The intersection search space, under the names of ``optuna.search_space``.

A sampler that models parameters jointly needs the ones every trial used, each with one
distribution: the parameters of every finished trial (COMPLETE, and PRUNED if asked), minus
those that some trial did not set or set with another distribution (a conditional parameter,
a range changed between runs). The result is sorted by parameter name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tunelab.exceptions import ConfigError
from tunelab.space import Distribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

__all__ = ["IntersectionSearchSpace", "intersection_search_space"]

Space = dict[str, Distribution]


def intersection_search_space(
    trials: Iterable[TrialRecord], include_pruned: bool = False
) -> Space:
    """The parameters, with their distributions, that all of ``trials`` share (see above)."""
    return dict(sorted((_fold(None, trials, include_pruned) or {}).items()))


def _fold(
    space: Space | None, trials: Iterable[TrialRecord], include_pruned: bool
) -> Space | None:
    """``space`` narrowed to what ``trials`` share with it; None while no trial counted."""
    counted = (TrialState.COMPLETE, TrialState.PRUNED) if include_pruned else (TrialState.COMPLETE,)
    for record in trials:
        if record.state not in counted:
            continue
        if space is None:
            space = dict(record.distributions)
        else:
            space = {n: d for n, d in space.items() if record.distributions.get(n) == d}
    return space


class IntersectionSearchSpace:
    """:func:`intersection_search_space` of one study, kept up to date between calls.

    A finished trial never changes, so each call reads only the trials from the first one
    that was still running (or waiting) at the previous call.
    """

    def __init__(self, include_pruned: bool = False) -> None:
        self._include_pruned = include_pruned
        self._study: tuple[str, int] | None = None
        self._space: Space | None = None
        self._next_number = 0  # every trial before it is finished and counted

    def calculate(self, study: Study, use_cache: bool = False) -> Space:
        """The intersection over ``study``'s trials so far. ``use_cache`` is accepted for
        Optuna's signature; tunelab's study reads finished trials from its cache anyway."""
        key = (study.study_name, study.study_id)
        if self._study is None:
            self._study = key
        elif key != self._study:
            raise ConfigError(
                f"IntersectionSearchSpace: this instance follows study {self._study[0]!r} and "
                f"was given study {study.study_name!r}; create one IntersectionSearchSpace per "
                "study.",
                field="study",
            )
        unread = [r for r in study.trials if r.number >= self._next_number]
        unfinished = [r.number for r in unread if not r.state.is_finished()]
        # Counting a trial twice changes no intersection, so those after a running one count now.
        self._space = _fold(self._space, unread, self._include_pruned)
        if unread:
            self._next_number = unfinished[0] if unfinished else unread[-1].number + 1
        return dict(sorted((self._space or {}).items()))
