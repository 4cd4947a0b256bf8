"""Objectives for worker-process tests: at module level, so that spawned workers import them."""

from __future__ import annotations

import os
import signal
import time

import tunelab


def quadratic(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    trial.set_user_attr("pid", os.getpid())
    return (x - 1.0) ** 2


SLOW_STEPS = 3  # slow_quadratic reports steps 0, 1 and 2, each 0.1 s after the one before


def slow_quadratic(trial: tunelab.Trial) -> float:
    trial.set_user_attr("pid", os.getpid())
    x = trial.suggest_float("x", -5.0, 5.0)
    for step in range(SLOW_STEPS):
        time.sleep(0.1)
        trial.report(x * x, step=step)
    return x * x


def broken(trial: tunelab.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    raise RuntimeError("disk on fire")


MARKER = "TUNELAB_TEST_MARKER"  # a variable the tests set in the parent


def where_am_i(trial: tunelab.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    time.sleep(0.2)  # long enough for every worker to start and take trials
    for name in ("CUDA_VISIBLE_DEVICES", "TUNELAB_DEVICE", "OMP_NUM_THREADS", MARKER):
        trial.set_user_attr(name, os.environ.get(name))
    return 0.0


def torch_threads(trial: tunelab.Trial) -> float:
    import torch

    trial.suggest_float("x", 0.0, 1.0)
    time.sleep(0.2)
    trial.set_user_attr("threads", torch.get_num_threads())
    return 0.0


def killed_in_the_last_trial(trial: tunelab.Trial) -> float:
    """Kills its own worker with SIGKILL in the budget's last trial, once its parameters are
    written; a retry comes after the budget, so it finishes."""
    trial.set_user_attr("pid", os.getpid())
    x = trial.suggest_float("x", -5.0, 5.0)
    trial.report(x * x, step=0)
    budget = trial.study.trial_budget
    if budget is not None and trial.number == budget - 1:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.1)
    return x * x


def kills_its_worker(trial: tunelab.Trial) -> float:
    trial.suggest_float("x", -5.0, 5.0)
    os.kill(os.getpid(), signal.SIGKILL)
    return 0.0


class FailsToLoadInOneWorker:
    """``quadratic``, as an object that the first worker to load it cannot load (it claims the
    ``marker`` file first); the others can."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__dict__.update(state)
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        raise RuntimeError("no licence for this machine")

    def __call__(self, trial: tunelab.Trial) -> float:
        return quadratic(trial)
