"""Objectives and readers shared by the study tests."""

from __future__ import annotations


def returns_x(trial):
    return trial.suggest_float("x", -10.0, 10.0)


def states(study):
    return [record.state for record in study.trials]
