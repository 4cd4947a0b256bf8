"""Tabu search (Glover, "Tabu Search - Part I", ORSA Journal on Computing 1(3), 1989, and
"Part II", 2(1), 1990), adapted to trials that are evaluated one at a time.

The space is discretized into a lattice: ``resolution`` values per continuous float (log-spaced
on a log scale), every value of an int, stepped float or categorical (an int or stepped range
with more than ``resolution`` values is thinned to ``resolution`` values evenly spread in its
unit mapping, so that one step is not a negligible change). A *move* changes one parameter by
one step (to the next value either side, or to any other choice of a categorical).

After ``n_startup_trials`` random trials, whose points count as their nearest lattice points,
the walk stands on the best of them. Its *current* point is the last point it moved to, which
may be worse than the best so far: that is how tabu search leaves a local optimum. Each new
trial evaluates an untried neighbour of the current point that no running trial holds and that
no tabu move reaches (ties drawn from a generator seeded with the seed and the trial's number).
When it finishes, the walk moves there if it improves on the current point (first
improvement). Once the neighbourhood is used up without improvement (every admissible
neighbour tried, or ``n_neighbours`` tried since the walk arrived: a candidate list in
Glover's terms), the walk takes the best tried admissible neighbour even if it is worse. When
every neighbour is tried or tabu and none can be moved to, proposals go further out: two, then
three moves away, then a random untried point; the walk follows the first that improves on it.

The tabu list is short-term memory of move *attributes*: moving a parameter away from a value
makes "this parameter takes that value again" tabu for the next ``tabu_size`` moves, so the
walk cannot undo its recent moves and cycle. Aspiration: a tabu move is allowed when it leads
to a point better than the best so far. For an untried point that cannot be known before the
trial runs, so untried points reached by tabu moves are never proposed (unless every untried
point is tabu, in a small space); aspiration applies to points already evaluated, for instance
by another process before the move became tabu, when the walk decides where to move.

The walk is not kept in the sampler object. It is replayed from the study's finished trials in
number order (a failed or pruned trial is a tried point that is never moved to), so that
several processes and a resumed study follow the same walk. Parameters outside the joint space
(conditional ones) are drawn at random. Once the whole lattice is tried, points are evaluated
again, at random.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunelab._options import check_int
from tunelab.samplers._neighbourhood import (
    Lattice,
    LatticePoint,
    LocalSearchSampler,
    Move,
    WalkState,
    merge_loss,
    nearest_free,
)
from tunelab.samplers.base import trial_rng
from tunelab.space import Distribution

if TYPE_CHECKING:
    from tunelab.trial import Trial

_WHERE = "tabu search"
_MOVE = "<tabu:move>"


class TabuSearchSampler(LocalSearchSampler["TabuState"]):
    """A walk on a lattice of the space that forbids undoing its recent moves.

    Args:
        seed: makes the search reproducible; None draws one.
        n_startup_trials: completed random trials before the walk starts from the best one.
        tabu_size: how many recent move attributes are tabu (the tabu tenure); 0 makes a plain
            first-improvement local search.
        n_neighbours: how many neighbours are evaluated from the current point before the walk
            takes the best tried one when none improved; None tries every admissible neighbour.
        resolution: lattice values per continuous float dimension (and the most an int or
            stepped range keeps).
    """

    display_name = _WHERE

    def __init__(
        self,
        seed: int | None = None,
        n_startup_trials: int = 5,
        tabu_size: int = 10,
        n_neighbours: int | None = None,
        resolution: int = 20,
    ) -> None:
        super().__init__(seed, n_startup_trials)
        self.tabu_size = check_int(_WHERE, "tabu_size", tabu_size, 0, "it counts recent moves.")
        if n_neighbours is not None:
            n_neighbours = check_int(
                _WHERE, "n_neighbours", n_neighbours, 1, "or None to try every neighbour."
            )
        self.n_neighbours = n_neighbours
        self.resolution = check_int(
            _WHERE, "resolution", resolution, 2, "a float range needs at least its two ends."
        )

    def _new_state(self, space: dict[str, Distribution], sign: float) -> TabuState:
        lattice = Lattice(space, self.resolution)
        return TabuState(
            space, sign, self.n_startup_trials, lattice, self.tabu_size, self.n_neighbours
        )

    def _propose(
        self, state: TabuState, trials: Sequence[Trial], taken: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        lattice = state.lattice
        held = {lattice.snap(params) for params in taken}
        batch = []
        for trial in trials:
            point = state.propose(trial_rng(self.seed, trial.number, _MOVE), held)
            held.add(point)
            batch.append(lattice.params(point))
        return batch


class TabuState(WalkState):
    """The walk on the lattice: its position, the tabu list and the tried lattice points."""

    def __init__(
        self,
        space: dict[str, Distribution],
        sign: float,
        n_startup: int,
        lattice: Lattice,
        tabu_size: int,
        n_neighbours: int | None,
    ) -> None:
        super().__init__(space, sign, n_startup)
        self.lattice = lattice
        self.n_neighbours = n_neighbours
        self.position: LatticePoint | None = None
        self.tabu: deque[Move] = deque(maxlen=tabu_size)
        self.visited: dict[LatticePoint, float | None] = {}  # lattice point -> best loss
        self.tried_here = 0  # neighbours evaluated since the walk arrived at its position

    def copy(self) -> TabuState:
        clone = super().copy()
        clone.tabu = deque(self.tabu, maxlen=self.tabu.maxlen)
        clone.visited = dict(self.visited)
        return clone

    # Questions the tests and the proposals ask -----------------------------------------

    def is_tabu(self, point: LatticePoint) -> bool:
        """Whether reaching ``point`` from the current one needs a tabu move."""
        assert self.position is not None
        return any(
            (dim, index) in self.tabu
            for dim, (index, here) in enumerate(zip(point, self.position))
            if index != here
        )

    def is_tried(self, point: LatticePoint) -> bool:
        return point in self.visited

    def untried_admissible_neighbours(self) -> list[LatticePoint]:
        assert self.position is not None
        neighbours = self.lattice.neighbours(self.position)
        return [p for p in neighbours if p not in self.visited and not self.is_tabu(p)]

    def propose(self, rng: random.Random, taken: set[LatticePoint]) -> LatticePoint:
        """The point for a new trial: the closest untried, untaken, non-tabu point."""
        assert self.position is not None
        lattice = self.lattice

        def untried(p: LatticePoint) -> bool:
            return p not in self.visited and p not in taken

        def allowed(p: LatticePoint) -> bool:
            return untried(p) and not self.is_tabu(p)

        point = nearest_free(lattice, self.position, allowed, rng)
        if point is None:  # every untried point is tabu (a small space), or none is left
            point = nearest_free(lattice, self.position, untried, rng)
        return lattice.random_point(rng) if point is None else point

    # Replay ------------------------------------------------------------------------------

    def _remember(self, params: dict[str, Any], loss: float | None) -> None:
        super()._remember(params, loss)
        point = self.lattice.snap(params)
        self.visited[point] = merge_loss(self.visited.get(point), loss)

    def _start(self) -> None:
        assert self.current is not None
        self.position = self.lattice.snap(self.current)
        self._escape()

    def _step(self, number: int, params: dict[str, Any], loss: float | None) -> None:
        assert self.position is not None
        point = self.lattice.snap(params)
        if point in self.lattice.neighbours(self.position):
            self.tried_here += 1
        if loss is not None and loss < self.current_loss and point != self.position:
            if self._admissible(point, loss):
                self._move(point, loss)
        self._escape()

    def _admissible(self, point: LatticePoint, loss: float) -> bool:
        return not self.is_tabu(point) or loss < self.best_loss  # aspiration

    def _move(self, point: LatticePoint, loss: float) -> None:
        assert self.position is not None
        for dim, (old, new) in enumerate(zip(self.position, point)):
            if old != new:
                self.tabu.append((dim, old))
        self.position = point
        self.tried_here = 0
        self.current, self.current_loss = self.lattice.params(point), loss

    def _used_up(self) -> bool:
        """Whether the neighbourhood of the current point is used up."""
        assert self.position is not None
        if self.n_neighbours is not None and self.tried_here >= self.n_neighbours:
            return True
        neighbours = self.lattice.neighbours(self.position)
        return not any(p not in self.visited and not self.is_tabu(p) for p in neighbours)

    def _escape(self) -> None:
        """While the neighbourhood is used up, move to its best admissible tried point."""
        for _ in range(len(self.visited)):
            if not self._used_up():
                return
            assert self.position is not None
            options = [
                (loss, p)
                for p in self.lattice.neighbours(self.position)
                if (loss := self.visited.get(p)) is not None and self._admissible(p, loss)
            ]
            if not options:
                return
            loss, point = min(options)
            self._move(point, loss)
