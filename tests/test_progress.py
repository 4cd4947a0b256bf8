"""The progress bar shows the best completed value, the best value running trials reported and
where the first running trials are."""

from __future__ import annotations

import threading

import pytest

import tunelab
from tunelab.torch import Task
from tunelab.torch.fused import PopulationTrainer
from tunelab.trial import TrialRecord, TrialState

pytest.importorskip("rich")

from tunelab import progress  # noqa: E402  (needs rich)


def test_the_status_shows_reports_of_running_trials_beside_the_best_completed():
    study = tunelab.create_study(direction="maximize")
    bar = progress.TrialProgress(study, n_trials=4, timeout=None, refresh_interval=3600)
    try:
        first, second = study.ask(), study.ask()
        first.report(0.4, step=1)
        second.report(0.7, step=1)
        second.report(0.6, step=2)
        assert bar.status == "no result yet"
        bar.refresh_reports()
        assert bar.status == (
            "no result yet; running trials reported 0.7; running: #0 step 1 0.4, #1 step 2 0.6"
        )
        bar.advance(study.tell(first, 0.5))
        bar.refresh_reports()
        assert bar.status == "best 0.5; running trials reported 0.7; running: #1 step 2 0.6"
        bar.advance(study.tell(second, state=tunelab.TrialState.PRUNED))
        bar.refresh_reports()
        assert bar.status == "best 0.5 (1 pruned)"  # no trial runs: nothing reported
    finally:
        bar.close()


def test_a_minimizing_study_shows_the_lowest_report():
    study = tunelab.create_study(direction="minimize")
    bar = progress.TrialProgress(study, n_trials=2, timeout=None, refresh_interval=3600)
    try:
        trial = study.ask()
        for step, value in enumerate((0.9, 0.3, float("nan"))):
            trial.report(value, step=step)
        bar.refresh_reports()
        assert bar.status == "no result yet; running trials reported 0.3; running: #0 step 2 nan"
    finally:
        bar.close()


def test_the_bar_reads_the_reports_by_itself_every_interval(monkeypatch):
    read = threading.Event()
    refresh = progress.TrialProgress.refresh_reports

    def noting(self):
        refresh(self)
        read.set()

    monkeypatch.setattr(progress.TrialProgress, "refresh_reports", noting)
    study = tunelab.create_study(direction="maximize")
    study.ask().report(0.25, step=0)
    bar = progress.TrialProgress(study, n_trials=1, timeout=None, refresh_interval=0.01)
    try:
        assert read.wait(timeout=60)  # a bound for a loaded machine, not a measured time
        assert bar.status == (
            "no result yet; running trials reported 0.25; running: #0 step 0 0.25"
        )
    finally:
        bar.close()


def test_a_fused_population_moves_the_bar_before_any_member_finishes(monkeypatch):
    bars: list[progress.TrialProgress] = []
    statuses: list[str] = []

    class Kept(progress.TrialProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    train_epoch = PopulationTrainer._train_epoch

    def reading(self, epoch, *args):
        if epoch > 1:  # what the bar's thread reads every interval, read now
            bars[0].refresh_reports()
            statuses.append(bars[0].status)
        return train_epoch(self, epoch, *args)

    monkeypatch.setattr(progress, "TrialProgress", Kept)
    monkeypatch.setattr(PopulationTrainer, "_train_epoch", reading)
    task = Task({
        "data": {"name": "digits"},
        "model": {"name": "mlp", "depth": 1, "width": 16},
        "recipe": {"epochs": 3, "batch_size": 128, "optimizer": "sgd", "lr": 0.1},
        "search": {"momentum": [0.0, 0.5, 0.9]},
        "artifacts": False,
    })
    study = tunelab.create_study(direction="maximize", sampler="random", seed=0)
    study.optimize(task, n_trials=3, fuse=3, show_progress_bar=True)
    reported = [max(r.intermediate_values[epoch] for r in study.trials) for epoch in (1, 2)]
    assert [status.split("; running:")[0] for status in statuses] == [
        f"no result yet; running trials reported {value:.6g}"
        for value in (reported[0], max(reported))
    ]
    assert all(status.count("step") == 3 for status in statuses)  # the three members


def test_running_trials_are_named_with_their_latest_report_the_first_few_then_a_count():
    records = [
        _record(13, {0: 0.5, 1: 0.811, 2: 0.8111}),
        _record(12, {6: 0.9, 7: 0.94312}),
        _record(20, {}),  # nothing reported yet: not named, not counted
        _record(15, {0: 0.1}),
        _record(16, {3: 0.2}),
        _record(14, {1: 0.3}),
    ]
    assert progress.running_text(records) == (
        "running: #12 step 7 0.9431, #13 step 2 0.8111, #14 step 1 0.3, +2 more"
    )
    assert progress.running_text(records[:2], shown=3) == (
        "running: #12 step 7 0.9431, #13 step 2 0.8111"
    )
    assert progress.running_text(records[2:3]) == ""
    assert progress.running_text([]) == ""


def _record(number, reports):
    """A running trial's record, as the storage gives it, numbered ``number``."""
    return TrialRecord(number, number, TrialState.RUNNING, intermediate_values=reports)
