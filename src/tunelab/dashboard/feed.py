"""What changed in a study since a client last looked: a revision number per trial.

A :class:`StudyFeed` reads a study's trials through the storage's incremental ``get_trials``
(finished trials come from its cache; only new and unfinished ones are read again) and gives
every trial that differs from the last reading the next revision number. A client keeps the
highest revision it has seen, its cursor, and asks for the trials changed after it: the
answer holds only those, however many trials the study has.

One feed serves every client of a study. While any page of the study listens, a task polls it
every :data:`POLL_S` seconds and wakes the listeners when the revision moves; the JSON pages
refresh it themselves when the last reading is older than that, so a request never sees
older data than a poll would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import anyio.to_thread

from tunelab.storage import BaseStorage
from tunelab.storage.base import StudyInfo
from tunelab.trial import TrialRecord

POLL_S = 0.5
KEEPALIVE_S = 15.0


@dataclass(frozen=True)
class Snapshot:
    """A study as one reading saw it: its record, its trials in number order, and the
    revision the reading reached."""

    info: StudyInfo
    trials: tuple[TrialRecord, ...]
    revision: int
    info_revision: int
    counts: Mapping[str, int]


@dataclass
class _State:
    records: dict[int, TrialRecord] = field(default_factory=dict)
    changed_at: dict[int, int] = field(default_factory=dict)  # trial number -> revision
    revision: int = 0
    info_revision: int = 0
    info: StudyInfo | None = None


class StudyFeed:
    """The trials of one study with the revision at which each last changed."""

    def __init__(
        self, storage: BaseStorage, name: str, clock: Callable[[], float] = time.monotonic
    ):
        self._storage = storage
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self._snapshot: Snapshot | None = None
        self._read_at = -float("inf")
        self._listeners = 0
        self._changed: asyncio.Condition | None = None
        self._poller: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self._name

    # --- reading (any thread) -----------------------------------------------------------------

    def snapshot(self, max_age: float = POLL_S) -> Snapshot:
        """The study as last read, read again first if that was more than ``max_age`` ago."""
        with self._lock:
            if self._snapshot is None or self._clock() - self._read_at > max_age:
                self._refresh_locked()
            assert self._snapshot is not None
            return self._snapshot

    def refresh(self) -> Snapshot:
        """Read the study now."""
        return self.snapshot(max_age=-1.0)

    def _refresh_locked(self) -> None:
        state = self._state
        info = self._storage.get_study(self._name)
        if info != state.info:
            state.revision += 1
            state.info_revision = state.revision
            state.info = info
        for record in self._storage.get_trials(info.study_id):
            known = state.records.get(record.number)
            if known is record or (known is not None and _same(known, record)):
                continue
            state.revision += 1
            state.records[record.number] = record
            state.changed_at[record.number] = state.revision
        if self._snapshot is None or self._snapshot.revision != state.revision:
            trials = tuple(state.records[n] for n in sorted(state.records))
            counts = dict(Counter(record.state.name for record in trials))
            self._snapshot = Snapshot(info, trials, state.revision, state.info_revision, counts)
        self._read_at = self._clock()

    def changes_since(
        self, cursor: int, max_age: float = POLL_S
    ) -> tuple[Snapshot, list[TrialRecord]]:
        """The current snapshot and the trials that changed after revision ``cursor``."""
        snapshot = self.snapshot(max_age)
        with self._lock:
            changed_at = dict(self._state.changed_at)
        return snapshot, [r for r in snapshot.trials if changed_at[r.number] > cursor]

    # --- listening (the event loop) -----------------------------------------------------------

    async def listen(self, cursor: int) -> AsyncIterator[tuple[Snapshot, list[TrialRecord]] | None]:
        """Yield the changes after ``cursor`` as they happen, moving the cursor along; None
        every :data:`KEEPALIVE_S` seconds without a change, so that a dead connection is
        noticed."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        self._listeners += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            while True:
                snapshot, changed = await anyio.to_thread.run_sync(self.changes_since, cursor)
                if changed or snapshot.info_revision > cursor:
                    cursor = snapshot.revision
                    yield snapshot, changed
                    continue
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), KEEPALIVE_S)
                if self._revision() <= cursor:
                    yield None
        finally:
            self._listeners -= 1

    def _revision(self) -> int:
        with self._lock:
            return self._state.revision

    async def _poll(self) -> None:
        """Read the study every POLL_S seconds while anyone listens; wake them on a change."""
        assert self._changed is not None
        seen = self._revision()
        while self._listeners > 0:
            await anyio.to_thread.run_sync(self.snapshot)
            revision = self._revision()
            if revision != seen:
                seen = revision
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(POLL_S)


def _same(known: TrialRecord, record: TrialRecord) -> bool:
    """Whether two readings of a trial hold the same data (NaN equal to NaN, as stored)."""
    try:
        return known == record or repr(known) == repr(record)
    except ValueError:  # arrays compared element-wise in user attributes
        return repr(known) == repr(record)


class Feeds:
    """One :class:`StudyFeed` per study name, made when first asked for."""

    def __init__(self, storage: BaseStorage) -> None:
        self._storage = storage
        self._feeds: dict[str, StudyFeed] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> StudyFeed:
        with self._lock:
            feed = self._feeds.get(name)
            if feed is None:
                feed = self._feeds[name] = StudyFeed(self._storage, name)
            return feed
