"""How a dead worker is described: its signal or exit code, where it died, its last error."""

from __future__ import annotations

from tunelab.execution.postmortem import death_text, how_it_ended


def test_an_end_is_named_by_its_signal_or_its_exit_code():
    assert how_it_ended(-9) == "was killed by SIGKILL"
    assert how_it_ended(1) == "exited with code 1"
    assert how_it_ended(-200) == "was killed by signal 200"


def test_a_death_says_when_it_came_and_the_last_error():
    assert death_text(1, 42, -9, 3, [7], None) == (
        "worker 1 (pid 42) died in trial 7: it was killed by SIGKILL"
    )
    assert death_text(0, 41, 0, 1, [], None) == (
        "worker 0 (pid 41) died after 1 trial: it exited with code 0"
    )
    assert death_text(2, 43, 1, 0, [], "ImportError: no") == (
        "worker 2 (pid 43) died before its first trial: it exited with code 1 after this error: "
        "ImportError: no"
    )
