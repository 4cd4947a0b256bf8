"""What the pages ask of a study that takes long to make (its figures, importances and the
doctor's findings), kept and made again in the background as the study moves on.

A study that trains changes several times a second, and its figures over 10,000 trials take
seconds to make. So a page gets at once the last value made, with the revision it was made at,
while a thread makes it again; the first value of each is made while its first caller waits
(once: a second caller waits for the same making). A value is made again only once the last
making is ``pause_factor`` times its own duration old (and at least ``min_pause_s``), so that
a server watching a busy study spends at most about ``1 / (1 + pause_factor)`` of a core on
it, whatever the study's size, and the workers sharing the machine keep the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("tunelab")

MIN_PAUSE_S = 2.0
PAUSE_FACTOR = 4.0


@dataclass
class _Kept:
    revision: int
    value: Any
    made_at: float  # on the clock, when its making ended
    cost: float  # how long that making took
    remaking: bool = False


def _in_a_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="tunelab-dashboard-remake", daemon=True).start()


class Remade:
    """Values by key, each made at a revision and made again in the background when asked for
    at a newer one (see the module docstring)."""

    def __init__(
        self,
        *,
        min_pause_s: float = MIN_PAUSE_S,
        pause_factor: float = PAUSE_FACTOR,
        clock: Callable[[], float] = time.monotonic,
        start: Callable[[Callable[[], None]], None] = _in_a_thread,
    ) -> None:
        self._min_pause_s = min_pause_s
        self._pause_factor = pause_factor
        self._clock = clock
        self._start = start
        self._kept: dict[Hashable, _Kept] = {}
        self._first_making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, revision: int, make: Callable[[], Any]) -> tuple[int, Any]:
        """The value under ``key`` and the revision it was made at: made now if there is none
        yet; else the one kept, made again in the background if ``revision`` moved on and
        the pause since the last making is over."""
        with self._lock:
            kept = self._kept.get(key)
            remake = False
            if kept is None:
                first = self._first_making.setdefault(key, threading.Lock())
            elif kept.revision != revision and not kept.remaking and self._pause_over(kept):
                kept.remaking = remake = True
        if kept is not None:
            if remake:
                self._start(lambda: self._remake(key, revision, make))
            return kept.revision, kept.value
        with first:
            with self._lock:
                kept = self._kept.get(key)
            if kept is None:  # not made by a caller this one waited for
                kept = self._made(key, revision, make)
        return kept.revision, kept.value

    def _pause_over(self, kept: _Kept) -> bool:
        pause = max(self._min_pause_s, self._pause_factor * kept.cost)
        return self._clock() - kept.made_at >= pause

    def _made(self, key: Hashable, revision: int, make: Callable[[], Any]) -> _Kept:
        started = self._clock()
        value = make()
        ended = self._clock()
        kept = _Kept(revision, value, made_at=ended, cost=ended - started)
        with self._lock:
            self._kept[key] = kept
        return kept

    def _remake(self, key: Hashable, revision: int, make: Callable[[], Any]) -> None:
        try:
            self._made(key, revision, make)
        except Exception:  # the page keeps the last value; the next pause tries again
            logger.exception("the dashboard could not make %s again", key)
            with self._lock:
                kept = self._kept[key]
                kept.remaking, kept.made_at = False, self._clock()
