"""Objectives for worker-process tests: at module level, so that spawned workers import them."""

from __future__ import annotations

import os
import time

import tunelab


def quadratic(trial: tunelab.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    trial.set_user_attr("pid", os.getpid())
    return (x - 1.0) ** 2


def slow_quadratic(trial: tunelab.Trial) -> float:
    trial.set_user_attr("pid", os.getpid())
    x = trial.suggest_float("x", -5.0, 5.0)
    for step in range(3):
        time.sleep(0.1)
        trial.report(x * x, step=step)
    return x * x


def broken(trial: tunelab.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    raise RuntimeError("disk on fire")


def where_am_i(trial: tunelab.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    time.sleep(0.2)  # long enough for every worker to start and take trials
    for name in ("CUDA_VISIBLE_DEVICES", "TUNELAB_DEVICE"):
        trial.set_user_attr(name, os.environ.get(name))
    return 0.0
