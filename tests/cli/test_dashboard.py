"""`tunelab dashboard` and `tunelab run --dashboard`."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli.helpers import MIXED_STUDY, invoke, stored_trials, write_study

# Asks the dashboard served beside the run for the study's trials (read at the request, not a
# poll ago), and keeps how many it answered.
ASKING_OBJECTIVE = """\
import json, os, urllib.request

def objective(trial):
    url = f"http://127.0.0.1:{os.environ['DASHBOARD_PORT']}/api/studies/demo/changes?cursor=0"
    with urllib.request.urlopen(url) as answer:
        trial.set_user_attr("seen", json.load(answer)["n_trials"])
    return trial.suggest_float("x", 0.0, 1.0)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serving_beyond_this_machine_without_a_token_is_refused(finished_study) -> None:
    result = invoke("dashboard", "--host", "0.0.0.0")

    assert result.exit_code == 2
    assert "--token" in result.stderr and "TUNELAB_DASHBOARD_TOKEN" in result.stderr


def test_a_port_in_use_is_refused(finished_study) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = invoke("dashboard", "--port", str(taken.getsockname()[1]))

    assert result.exit_code == 2 and "is in use" in result.stderr


def test_a_missing_storage_file_is_refused(workdir: Path) -> None:
    result = invoke("dashboard", "--storage", "sqlite:///missing.db")

    assert result.exit_code == 2 and "missing.db" in result.stderr
    assert not (workdir / "missing.db").exists()


def test_run_serves_the_dashboard_while_the_study_runs_and_stops_it_after(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("DASHBOARD_PORT", str(port))
    path = write_study(workdir, MIXED_STUDY, ASKING_OBJECTIVE)

    result = invoke("run", str(path), "--dashboard", "--dashboard-port", str(port))

    assert result.exit_code == 0, result.output
    assert f"Dashboard: http://127.0.0.1:{port}/studies/demo" in result.stderr
    # The dashboard answered during every trial, with the trials stored by then.
    trials = stored_trials("demo")
    assert len(trials) == 4 and all(1 <= r.user_attrs["seen"] <= r.number + 1 for r in trials)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
