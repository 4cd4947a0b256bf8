"""A live progress bar for ``optimize``: trials done, best value, elapsed time and ETA."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tunelab.exceptions import MissingExtraError
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study


class TrialProgress:
    """Counts trials when ``n_trials`` is set, else seconds of the ``timeout``."""

    def __init__(self, study: Study, n_trials: int | None, timeout: float | None) -> None:
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
        self._by_time = n_trials is None and timeout is not None
        self._started = time.monotonic()
        self._maximize = len(study.directions) == 1 and study.direction == "maximize"
        self._single = len(study.directions) == 1
        self._best: float | None = None
        self._counts = {state: 0 for state in TrialState}
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

    def advance(self, record: TrialRecord) -> None:
        self._counts[record.state] += 1
        if self._single and record.state is TrialState.COMPLETE and record.values:
            value = record.values[0]
            if self._best is None or (value > self._best if self._maximize else value < self._best):
                self._best = value
        status = f"best {self._best:.6g}" if self._best is not None else "no result yet"
        others = ", ".join(
            f"{n} {s.name.lower()}"
            for s, n in self._counts.items()
            if n and s in (TrialState.PRUNED, TrialState.FAIL)
        )
        if others:
            status += f" ({others})"
        if self._by_time:
            self._progress.update(
                self._task, completed=time.monotonic() - self._started, status=status
            )
        else:
            self._progress.update(self._task, advance=1, status=status)

    def close(self) -> None:
        self._progress.stop()
