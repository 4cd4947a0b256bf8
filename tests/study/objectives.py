"""Objectives and readers shared by the study tests."""

from __future__ import annotations

import subprocess
import sys
import time

from tunelab.storage import shared_url


def returns_x(trial):
    return trial.suggest_float("x", -10.0, 10.0)


def states(study):
    return [record.state for record in study.trials]


STOP_AT = 2  # the trial of stops_the_study_from_another_process that asks for the stop


def stops_the_study_from_another_process(trial):
    """Trial STOP_AT has another process request a stop of the study, notes how many trials
    the study held just after (``trials_at_stop``), then carries on to report and return: the
    stop ends the run, not the trials already running. The others run briefly."""
    x = trial.suggest_float("x", 0.0, 1.0)
    if trial.number == STOP_AT:
        request_stop_elsewhere(trial.study)
        study = trial.study
        trial.set_user_attr("trials_at_stop", study.storage.count_trials(study.study_id))
    time.sleep(0.05)
    trial.report(x, step=0)
    return x


def request_stop_elsewhere(study):
    """``request_stop(study)`` from a new Python process, as a dashboard would."""
    code = (
        "import sys, tunelab\n"
        "from tunelab.study import request_stop\n"
        "request_stop(tunelab.load_study(sys.argv[1], storage=sys.argv[2]))\n"
    )
    url = shared_url(study.storage)
    subprocess.run([sys.executable, "-c", code, study.study_name, url], check=True, timeout=60)
