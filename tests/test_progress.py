"""The progress bar shows the best completed value and the best value running trials reported."""

from __future__ import annotations

import threading

import pytest

import tunelab
from tunelab.torch import Task
from tunelab.torch.fused import PopulationTrainer

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
        assert bar.status == "no result yet; running trials reported 0.7"
        bar.advance(study.tell(first, 0.5))
        bar.refresh_reports()
        assert bar.status == "best 0.5; running trials reported 0.7"
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
        assert bar.status == "no result yet; running trials reported 0.3"
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
        assert bar.status == "no result yet; running trials reported 0.25"
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
    assert statuses == [f"no result yet; running trials reported {value:.6g}"
                        for value in (reported[0], max(reported))]
