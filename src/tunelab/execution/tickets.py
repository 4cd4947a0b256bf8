"""The trial budget of one ``optimize(n_jobs=...)`` call, shared by its worker processes.

A worker takes a ticket before each trial (K tickets before a fused population of K), so that
the workers together start exactly ``n_trials``. The tickets each worker took, in all and not
yet finished, are counted apart, for the parent: a worker that died leaves tickets whose trials
never started, which the parent gives back to the others (:meth:`Tickets.reissue`), and the
parent can tell when the budget is spent and no trial of the call runs any more
(:meth:`Tickets.idle`). Until then a worker without a ticket waits rather than leaves, because
a worker that dies meanwhile may leave a trial to retry, which the parent gives a ticket for
(:meth:`Tickets.add`); the workers leave once the parent closes the budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunelab.execution.launcher import WorkerContext

UNLIMITED = -1


class Tickets:
    """What is left of the budget, and who took what; shared by the parent and its workers."""

    def __init__(self, context: WorkerContext, n_trials: int | None, workers: int) -> None:
        self._lock = context.Lock()
        self._left = context.RawValue("q", UNLIMITED if n_trials is None else n_trials)
        self._taken = context.RawArray("q", workers)  # by each worker, in all
        self._running = context.RawArray("q", workers)  # by each worker, trials not finished
        self._closed = context.RawValue("b", 0)

    # A worker's side ----------------------------------------------------------------------

    def take(self, worker: int, wanted: int) -> int:
        """Take up to ``wanted`` tickets for ``worker``; how many it got (0: none left now)."""
        with self._lock:
            left = self._left.value
            taken = wanted if left == UNLIMITED else min(wanted, left)
            if left != UNLIMITED:
                self._left.value = left - taken
            self._taken[worker] += taken
            self._running[worker] += taken
            return taken

    def finished(self, worker: int, count: int) -> None:
        """``worker`` finished the trials of ``count`` of its tickets."""
        with self._lock:
            self._running[worker] -= count

    @property
    def closed(self) -> bool:
        """Whether the parent closed the budget: nothing is left to run, workers may leave."""
        return bool(self._closed.value)

    # The parent's side --------------------------------------------------------------------

    def taken_by(self, worker: int) -> int:
        with self._lock:
            return int(self._taken[worker])

    def reissue(self, worker: int, unspent: int) -> None:
        """``worker`` is dead: its tickets run nothing any more, and ``unspent`` of them, whose
        trials it never started, go back to the budget for the others."""
        with self._lock:
            self._running[worker] = 0
            if self._left.value != UNLIMITED:
                self._left.value += unspent

    def idle(self) -> bool:
        """Whether the budget is spent and no worker runs a trial of it."""
        with self._lock:
            return self._left.value == 0 and not any(self._running)

    def add(self, count: int) -> None:
        """``count`` more tickets, for trials queued once the budget was spent."""
        with self._lock:
            self._left.value += count

    def close(self) -> None:
        with self._lock:
            self._closed.value = 1
