"""A live progress bar for ``optimize``: trials done, best value, elapsed time and ETA.

Beside the best value of the completed trials, the bar shows the best value that running
trials have reported so far, read from the storage every ``refresh_interval`` seconds by a
thread of its own: a fused population or a long trial reports every epoch long before it
finishes, and wherever it runs (this process, worker processes) its reports reach the storage
at once. The label keeps the two apart, since a reported value is an intermediate one. The
same reading shows where the first few running trials are: each one's latest step and value.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from tunelab.exceptions import MissingExtraError
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study

logger = logging.getLogger("tunelab")

REFRESH_INTERVAL = 2.0
"""Seconds between two readings of the running trials' reports (one query each)."""

RUNNING_SHOWN = 3
"""How many running trials the bar names, each with its latest report."""


class TrialProgress:
    """Counts trials when ``n_trials`` is set, else seconds of the ``timeout``."""

    def __init__(
        self,
        study: Study,
        n_trials: int | None,
        timeout: float | None,
        refresh_interval: float = REFRESH_INTERVAL,
    ) -> None:
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
        except ImportError:
            raise MissingExtraError("rich", "cli", "show_progress_bar=True") from None
        self._study = study
        self._by_time = n_trials is None and timeout is not None
        self._started = time.monotonic()
        self._maximize = len(study.directions) == 1 and study.direction == "maximize"
        self._single = len(study.directions) == 1
        self._best: float | None = None
        self._best_reported: float | None = None
        self._running = ""
        self._counts = {state: 0 for state in TrialState}
        self._lock = threading.Lock()  # advance() and the reading thread both set the status
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn() if not self._by_time else TextColumn(""),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        total = timeout if self._by_time else n_trials
        self._task = self._progress.add_task(study.study_name, total=total, status="")
        self._progress.start()
        self._stop = threading.Event()
        self._reader = threading.Thread(
            target=self._read_reports, args=(refresh_interval,), name="tunelab-progress",
            daemon=True,
        )
        if self._single:  # only single-objective trials report
            self._reader.start()

    @property
    def status(self) -> str:
        """The text the bar shows beside the count."""
        status = f"best {self._best:.6g}" if self._best is not None else "no result yet"
        if self._best_reported is not None:
            status += f"; running trials reported {self._best_reported:.6g}"
        others = ", ".join(
            f"{n} {s.name.lower()}"
            for s, n in self._counts.items()
            if n and s in (TrialState.PRUNED, TrialState.FAIL)
        )
        status = f"{status} ({others})" if others else status
        return f"{status}; {self._running}" if self._running else status

    def advance(self, record: TrialRecord) -> None:
        """Count a finished trial."""
        with self._lock:
            self._counts[record.state] += 1
            if self._single and record.state is TrialState.COMPLETE and record.values:
                self._best = self._better(self._best, record.values[0])
            if self._by_time:
                completed = time.monotonic() - self._started
                self._progress.update(self._task, completed=completed, status=self.status)
            else:
                self._progress.update(self._task, advance=1, status=self.status)

    def refresh_reports(self) -> None:
        """Show the best value the study's running trials have reported so far, and the
        latest report of the first few."""
        study = self._study
        running = study.storage.get_trials(study.study_id, (TrialState.RUNNING,))
        with self._lock:
            self._best_reported = self._best_of(
                value for record in running for value in record.intermediate_values.values()
            )
            self._running = running_text(running)
            self._progress.update(self._task, status=self.status)

    def close(self) -> None:
        self._stop.set()
        if self._reader.is_alive():
            self._reader.join()
        self._progress.stop()

    def _read_reports(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh_reports()
            except Exception:  # a storage hiccup must not stop the run; the next reading retries
                logger.debug("Running trials' reports not read", exc_info=True)

    def _best_of(self, values: Iterable[float]) -> float | None:
        best = None
        for value in values:
            if math.isfinite(value):
                best = self._better(best, value)
        return best

    def _better(self, best: float | None, value: float) -> float:
        if best is None or (value > best if self._maximize else value < best):
            return value
        return best


def running_text(records: Sequence[TrialRecord], shown: int = RUNNING_SHOWN) -> str:
    """``running: #12 step 7 0.943, #13 step 2 0.811, +2 more``: the latest report of each
    running trial that reported, the first ``shown`` by number; "" when none reported."""
    reporting = sorted((r for r in records if r.intermediate_values), key=lambda r: r.number)
    parts = []
    for record in reporting[:shown]:
        step = max(record.intermediate_values)
        parts.append(f"#{record.number} step {step} {record.intermediate_values[step]:.4g}")
    if len(reporting) > shown:
        parts.append(f"+{len(reporting) - shown} more")
    return "running: " + ", ".join(parts) if parts else ""
