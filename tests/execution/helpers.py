"""Scaffolding shared by the worker-process and Dask tests: a run interrupted with Ctrl-C, a
worker killed mid-trial, and the checks that nothing was lost or left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import tunelab
from tests.execution.objectives import SLOW_STEPS
from tunelab.trial import TrialRecord, TrialState

ROOT = Path(__file__).resolve().parents[2]


def interrupted_run(tmp_path: Path, url: str, run: str, imports: str = "") -> str:
    """Run a script that creates study "c" on ``url`` and runs ``run`` (code using ``study``,
    catching KeyboardInterrupt), Ctrl-C it once two trials completed; its standard output."""
    script = tmp_path / "run.py"
    body = textwrap.indent(textwrap.dedent(run), " " * 4)
    script.write_text(
        # Ctrl-C restored first: a shell starts background jobs (the tests, run so) with
        # SIGINT ignored, which this child would inherit.
        "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
        f"import sys\nimport time\nsys.path.insert(0, {str(ROOT)!r})\n{imports}\n"
        "import tunelab\nfrom tests.execution import objectives\n"
        "if __name__ == '__main__':\n"
        f"    study = tunelab.create_study(name='c', storage={url!r})\n{body}\n"
    )
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            study = tunelab.load_study("c", url)
        except tunelab.StudyNotFoundError:
            continue
        if sum(r.state is TrialState.COMPLETE for r in study.trials) >= 2:
            break
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    return out


def assert_interrupted_cleanly(trials: list[TrialRecord]) -> list[TrialRecord]:
    """Nothing left running, and the one or two trials in flight failed as interrupted."""
    assert not [r for r in trials if not r.state.is_finished()]
    interrupted = [r for r in trials if r.state is TrialState.FAIL]
    assert 1 <= len(interrupted) <= 2
    assert all(r.fail_reason == "interrupted by the user (Ctrl-C)" for r in interrupted)
    return interrupted


class KillOneRunningWorker:
    """A callback that, once, kills with SIGKILL the worker of a trial of
    :func:`objectives.slow_quadratic` that is training in another process than the trial that
    just finished: one that has reported, but not its last step.

    A trial past its last report may finish between the look and the kill, so the callback
    waits up to ``patience`` seconds for one with a step to go (it then still sleeps 0.1 s,
    far longer than the look and the kill take); two workers running trials of one length
    tend to finish together, when the other trial is at its end.
    """

    def __init__(self, patience: float = 0.5) -> None:
        self.patience = patience
        self.killed: list[int] = []

    def __call__(self, study: tunelab.Study, record: TrialRecord) -> None:
        deadline = time.monotonic() + self.patience
        while not self.killed and time.monotonic() < deadline:
            for other in study.get_trials([TrialState.RUNNING]):
                steps = other.intermediate_values
                if (
                    steps
                    and max(steps) < SLOW_STEPS - 1
                    and other.user_attrs["pid"] != record.user_attrs["pid"]
                ):
                    os.kill(other.user_attrs["pid"], signal.SIGKILL)
                    self.killed.append(other.number)
                    return
            time.sleep(0.02)


def assert_failed_and_retried(
    trials: list[TrialRecord],
    killed: list[int],
    budget: int,
    reason: str = "stopped sending heartbeats",
) -> None:
    """The killed trial failed for ``reason`` and was retried once, with its parameters, and
    the study still holds exactly its budget."""
    assert len(killed) == 1
    assert len(trials) == budget and not [r for r in trials if not r.state.is_finished()]
    dead = trials[killed[0]]
    assert dead.state is TrialState.FAIL and reason in dead.fail_reason
    retries = [r for r in trials if r.system_attrs.get("retry", {}).get("of") == dead.number]
    assert len(retries) == 1 and retries[0].state is TrialState.COMPLETE
    assert retries[0].params == dead.params
    assert sum(r.state is TrialState.COMPLETE for r in trials) == budget - 1


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_gone(pids: list[int], guard: float = 30.0) -> list[int]:
    """Wait until none of ``pids`` runs, for at most ``guard`` seconds; those still running."""
    deadline = time.monotonic() + guard
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def outlive_the_parent(way: str, pid_file: str, parent_pid: int) -> None:
    """A child process that ties itself to the process ``parent_pid`` that started it, by the
    kernel's parent-death signal (``way`` "kernel") or by a watching thread ("watch"), writes
    its pid and sleeps."""
    from tunelab.execution import lifeline

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if way == "kernel":
        assert lifeline.tie_to_parent(parent_pid)
    else:
        lifeline._watch_the_parent()
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(120)
